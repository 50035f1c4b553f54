"""``legal.contract``: contract and other legal-agreement text, found chunk by chunk.

Contracts are recognisable by their constructions more than by their words: obligations
("shall", "agrees to"), self-reference ("this Agreement", "hereunder", "the Parties"),
defined terms in quotes and capitals (``("Licensee")``), boilerplate ("governed by the
laws of", "in witness whereof"), spelled-out periods ("thirty (30) days") and numbered
sections: the rows of ``legal_signals.SIGNALS``.

Cheap first: a chunk (``regions``) with none of the gate's vocabulary is done after one
RE2 search that stops at the first hit (most prose stops here). Otherwise one RE2 set
pass says which rows occur, and two densities are counted: "shall" per word and "such"/
"any" per word (drafting style). ``z`` is a linear function of those (weights from
``legal_weights``, fitted by ``scripts/train_document_detectors.py``); the reported score
is ``sigmoid(z)`` (0.5 is the threshold) of the best chunk, raised a little when several
chunks agree. The span runs from the first to the last legal chunk, trimmed to lines that
carry legal vocabulary. A short question that mentions a term ("what does 'indemnify'
mean?") stays far below the threshold; a single contract sentence does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from bastion.detect import legal_weights
from bastion.detect.legal_signals import GATE, SIGNALS, signature
from bastion.detect.patterns import Hit
from bastion.detect.regions import (
    Screen,
    SignalSet,
    chunk_bounds,
    line_bounds,
    line_bounds_reversed,
    utf8,
)

CAP_SHALL = 0.05  # "shall" per word beyond this adds nothing
CAP_FORMAL = 0.03  # "such"/"any" per word beyond this adds nothing
_MIN_WORDS = 40
_MIN_SCORE = 0.1  # candidates below this are not returned at all
_FLOOR = math.log(_MIN_SCORE / (1.0 - _MIN_SCORE))
_NONE = -30.0  # the log-odds of a chunk the gate turned away
_SPREAD, _SPREAD_CAP = 0.3, 1.2  # per further legal chunk, and at most


@dataclass(frozen=True, slots=True)
class Features:
    """What the score of one chunk is computed from (the training script reads these)."""

    present: tuple[int, ...]  # indices into ``SIGNALS``
    shall: float  # "shall" per word, scaled to [0, 1] by ``CAP_SHALL``
    formal: float  # "such"/"any" per word, scaled to [0, 1] by ``CAP_FORMAL``


@dataclass(frozen=True, slots=True)
class _Table:
    gate: Screen
    signals: SignalSet
    bias: float
    weights: tuple[float, ...]
    shall: float
    formal: float


@cache
def _table() -> _Table:
    trained = signature() == legal_weights.SIGNATURE and len(SIGNALS) == len(legal_weights.WEIGHTS)
    return _Table(
        Screen(GATE),
        SignalSet([regex for regex, _ in SIGNALS]),
        legal_weights.BIAS if trained else legal_weights.PRIOR_BIAS,
        legal_weights.WEIGHTS if trained else tuple(weight for _, weight in SIGNALS),
        legal_weights.SHALL if trained else legal_weights.PRIOR_SHALL,
        legal_weights.FORMAL if trained else legal_weights.PRIOR_FORMAL,
    )


_REFINE_FROM = 0.3
"""Candidates scored below this (reported only with --all-scores) keep their chunk span."""


class LegalDetector:
    """Reports ``legal.contract`` for contract or legal-agreement text (one hit at most)."""

    name = "legal"

    def __init__(self) -> None:
        _table()  # build the set now, not on the first request

    def detect(self, text: str) -> list[Hit]:
        """One hit spanning the legal region, or nothing; never raises for any text."""
        legal: list[tuple[int, int, float]] = []
        for start, end in chunk_bounds(text):
            z = _score(text[start:end])
            if z > _FLOOR:
                legal.append((start, end, z))
        if not legal:
            return []
        agreeing = sum(1 for _, _, z in legal if z >= 0.0)
        z = max(z for _, _, z in legal) + min(_SPREAD * max(agreeing - 1, 0), _SPREAD_CAP)
        score = round(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))), 4)
        start, end = legal[0][0], legal[-1][1]
        if score >= _REFINE_FROM:  # trimming costs a gate test per line: only for real hits
            start, end = _refine(text, start, end)
        return [Hit("legal.contract", start, end, score, "legal")]


def features(chunk: str) -> Features | None:
    """The chunk's features, or None when the gate finds no legal vocabulary at all."""
    table = _table()
    raw = utf8(chunk)
    if not table.gate.passes(raw):
        return None
    present = tuple(table.signals.present(raw))
    words = max(chunk.count(" ") + 1, _MIN_WORDS)  # one "any" in a short line is no style
    shall = chunk.count("hall")  # shall, Shall (and the odd "hall")
    formal = chunk.count(" such ") + chunk.count(" any ")
    return Features(
        present,
        min(shall / words, CAP_SHALL) / CAP_SHALL,
        min(formal / words, CAP_FORMAL) / CAP_FORMAL,
    )


def _score(chunk: str) -> float:
    """The chunk's log-odds of being contract text."""
    found = features(chunk)
    if found is None:
        return _NONE
    table = _table()
    z = table.bias + sum(table.weights[index] for index in found.present)
    return z + table.shall * found.shall + table.formal * found.formal


def _refine(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim ``[start, end)`` to its first and last lines with legal vocabulary."""
    gate = _table().gate
    lines = line_bounds(text, start, end)
    first = next((a for a, b in lines if gate.passes(utf8(text[a:b]))), None)
    if first is None:
        return start, end
    backwards = line_bounds_reversed(text, first, end)
    last = next(b for a, b in backwards if gate.passes(utf8(text[a:b])))
    return first, last
