"""One text in, findings out: the fast tier, normalisation, document detectors, taggers.

``Scanner.scan`` is what ``bastion scan``, ``POST /v1/bastion/scan``, the pipeline's
inspect stage and ``bastion eval`` all call. It runs the pattern engine on the original
text and on every normalised projection of it (RELIABILITY.md "Hostile text"), maps each
finding back to the original run it came from, resolves overlapping findings of the same
family, and applies per-class thresholds.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bastion.detect.custom import TermMatcher
from bastion.detect.engine import Engine
from bastion.detect.injection import InjectionDetector
from bastion.detect.names import name_words
from bastion.detect.normalize import Normalised, project
from bastion.detect.patterns import DocumentDetector, Hit

DEFAULT_THRESHOLD = 0.5
_SURROGATE = re.compile("[\ud800-\udfff]")
_FAMILIES = ("pii.", "secret.")  # overlapping findings within a family: the strongest wins
_SPLITTABLE = frozenset({"pii", "secret", "custom"})  # values, not whole-text classes


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Findings at or above their class threshold (all candidates with ``all_scores``)."""

    findings: list[Hit]
    doc_scores: dict[str, float] = field(default_factory=dict)


class Scanner:
    """Built once from config (``build_scanner``); ``scan`` is thread-safe and pure."""

    def __init__(
        self,
        engine: Engine,
        *,
        terms: TermMatcher | None = None,
        documents: Sequence[DocumentDetector] = (),
        thresholds: Mapping[str, float] | None = None,
        normalise: bool = True,
        injection: InjectionDetector | None = None,
    ) -> None:
        self.engine = engine
        self._terms = terms if terms else None
        self._documents = tuple(documents)
        self._thresholds = dict(thresholds or {})
        self._normalise = normalise
        self._injection = injection

    def threshold(self, data_class: str) -> float:
        return self._thresholds.get(data_class, DEFAULT_THRESHOLD)

    def scan(
        self, text: str, source: str = "user", *, all_scores: bool = False, documents: bool = True
    ) -> ScanResult:
        """Findings of ``text`` read as ``source``; ``documents=False`` skips whole-text
        detectors (code, legal, names)."""
        text = _encodable(text)
        normalised = project(text) if self._normalise and text else None
        return self._scan(text, source, normalised, all_scores=all_scores, documents=documents)

    def scan_names(self, names: str) -> ScanResult:
        """Findings of a list of names (field names and identifiers, one per line): the
        values in them as written, and injection read in the words they are made of
        (``names.name_words``) as text that is not prose: by the rules' clauses alone
        (the model's word statistics flag the vocabulary of LLM tooling there: OpenAI's
        own type and field names score 0.95; and ``developer_mode`` names a setting).
        Whole-text classes such as code are not looked for: a list of identifiers is not
        a document."""
        result = self.scan(names, "metadata", documents=False)
        if self._injection is None or not names:
            return result
        words = name_words(_encodable(names))
        for hit in self._injection.detect(words.text, "metadata", prose=False):
            if hit.score >= self.threshold(hit.data_class):
                start, end = words.to_original(hit.start, hit.end)
                result.findings.append(_moved(hit, start, end, "name_words"))
        return result

    def across(self, text: str, at: int) -> list[Hit]:
        """The values (pii, secret, custom) ``scan(text, documents=False)`` reports whose
        span holds the space at ``at`` and a character on either side: values split where
        two texts meet, read joined by that space.

        Most seams hold no such value, and most often that is plain before any scan:
        no projection to read, no term with a space, and no pattern whose value can hold
        a space matching across ``at`` (``Engine.crosses``)."""
        text = _encodable(text)
        normalised = project(text) if self._normalise and text else None
        if (
            (normalised is None or not normalised.projections)
            and (self._terms is None or not self._terms.spaced)
            and not self.engine.crosses(text, at)
        ):
            return []
        found = self._scan(text, "user", normalised, all_scores=False, documents=False).findings
        return [
            hit
            for hit in found
            if hit.data_class.split(".", 1)[0] in _SPLITTABLE and hit.start < at < hit.end - 1
        ]

    def _scan(
        self,
        text: str,
        source: str,
        normalised: Normalised | None,
        *,
        all_scores: bool,
        documents: bool,
    ) -> ScanResult:
        hits = self._find(text)
        if documents:
            for detector in self._documents:
                hits.extend(detector.detect(text))
        if normalised is not None:
            hits.extend(self._find_hidden(normalised, hits))
        hits = _resolve(hits)
        if documents and self._injection is not None:  # its own class: nothing to resolve
            hits.extend(
                self._injection.detect(text, source, all_scores=all_scores, normalised=normalised)
            )
        doc_scores: dict[str, float] = {}
        for hit in hits:
            if hit.score > doc_scores.get(hit.data_class, -1.0):
                doc_scores[hit.data_class] = hit.score
        if not all_scores:
            hits = [hit for hit in hits if hit.score >= self.threshold(hit.data_class)]
            return ScanResult(hits)
        return ScanResult(hits, doc_scores)

    def _find(self, text: str) -> list[Hit]:
        hits = self.engine.scan(text)
        if self._terms is not None:
            hits.extend(self._terms.detect(text))
        return hits

    def _find_hidden(self, normalised: Normalised, found: list[Hit]) -> list[Hit]:
        """Findings that only normalised projections reveal, in original offsets."""
        extra: list[Hit] = list(normalised.evasion)
        if not normalised.projections:  # plain text: nothing more to scan
            return extra
        seen: dict[str, _Spans] = {}
        for hit in found:
            seen.setdefault(hit.data_class, _Spans()).add(hit.start, hit.end)
        for projection in normalised.projections:
            for hit in self._find(projection.text):
                start, end = projection.to_original(hit.start, hit.end)
                spans = seen.setdefault(hit.data_class, _Spans())
                if spans.covers(start, end):
                    continue  # nothing new; one that reaches further competes in _resolve
                    # ("j\u200bo\u200bhn@example.org" reads "hn@..." as it is)
                spans.add(start, end)
                extra.append(_moved(hit, start, end, projection.name))
                if projection.decoded:
                    meta = {"encoding": projection.name, "hides": hit.data_class}
                    extra.append(Hit("evasion.encoded", start, end, 0.9, "normalize", "", meta))
        return extra


def _encodable(text: str) -> str:
    """``text`` with each lone surrogate (a JSON "\\ud800" escape) read as U+FFFD, offsets
    unchanged: RE2 and the fingerprints need its UTF-8 form, which they lack."""
    if not text.isascii() and _SURROGATE.search(text):
        return _SURROGATE.sub("\ufffd", text)
    return text


def _moved(hit: Hit, start: int, end: int, projection: str) -> Hit:
    """``hit`` found in the projection named ``projection``, at its original span."""
    meta = {**hit.meta, "projection": projection}
    return Hit(hit.data_class, start, end, hit.score, hit.detector, hit.value, meta)


def _family(data_class: str) -> str | None:
    for prefix in _FAMILIES:
        if data_class.startswith(prefix):
            return prefix
    return None


def _resolve(hits: list[Hit]) -> list[Hit]:
    """Drop exact duplicates, and within a family keep the strongest of overlapping hits."""
    ranked = sorted(hits, key=lambda h: (-h.score, -(h.end - h.start), h.start, h.data_class))
    kept: list[Hit] = []
    claimed: dict[str, _Spans] = {}
    seen: set[tuple[str, int, int]] = set()
    for hit in ranked:
        key = (hit.data_class, hit.start, hit.end)
        if key in seen:
            continue
        family = _family(hit.data_class)
        if family is not None:
            spans = claimed.setdefault(family, _Spans())
            if spans.overlaps(hit.start, hit.end):
                continue
            spans.add(hit.start, hit.end)
        seen.add(key)
        kept.append(hit)
    kept.sort(key=lambda h: (h.start, h.end, h.data_class))
    return kept


class _Spans:
    """A union of half-open intervals kept as sorted disjoint runs (log-time overlap test)."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        """Whether the non-empty span ``[start, end)`` meets any run."""
        at = bisect_right(self._starts, end - 1) - 1  # the last run starting inside or before
        return at >= 0 and self._ends[at] > start

    def covers(self, start: int, end: int) -> bool:
        """Whether one run holds all of the non-empty span ``[start, end)``."""
        at = bisect_right(self._starts, start) - 1  # the last run starting at or before it
        return at >= 0 and self._ends[at] >= end

    def add(self, start: int, end: int) -> None:
        lo = bisect_right(self._ends, start - 1)  # first run ending at or after start
        hi = bisect_right(self._starts, end)  # runs starting after end stay
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]
