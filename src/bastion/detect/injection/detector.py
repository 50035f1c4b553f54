"""``InjectionDetector``: ``injection.direct`` in prompts, ``injection.indirect`` in data.

The source decides the reading: ``system``/``user`` (and ``assistant``) text is a prompt,
scored by the direct model and the prompt scores of the rules and reported as
``injection.direct``; ``retrieved``/``tool_result`` text is data, scored by the indirect
model and the data scores of the rules (which also name jailbreak and override phrasings,
so a jailbreak pasted into a document is still found), reported as ``injection.indirect``.

Every text is read as it is and as each normalised projection (``normalize.project``:
invisible characters removed, tag payloads decoded, look-alikes folded, base64 / hex /
URL escapes / ROT13 / leet / spaced-out letters decoded), so an instruction hidden by
any of those is read in clear; spans map back to the original. In data, a Unicode tag
payload is itself an injection (nothing legitimate hides text there).

The classifier scores overlapping windows of tokens (``features``) and the text takes
its best window: diluting an attack in benign text does not lower its score. One
finding per text at most, spanning from the first to the last window (or rule match)
at or above the source's threshold; with ``all_scores`` the best candidate is returned
whatever its score. Never raises for any text.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from typing import NamedTuple

from bastion.detect.injection.features import markers
from bastion.detect.injection.model import InjectionModel, packaged_model
from bastion.detect.injection.offsets import token_char_spans
from bastion.detect.injection.rules import RuleSet, default_rules
from bastion.detect.normalize import Normalised, Projection, project
from bastion.detect.patterns import Hit
from bastion.detect.regions import SignalSet, utf8
from bastion.model import Finding

DETECTOR = "injection"
DATA_SOURCES = frozenset({"retrieved", "tool_result"})
DIRECT, INDIRECT = "injection.direct", "injection.indirect"
TAG_PAYLOAD_SCORE = 0.9
CLAUSE_WORDS = 3
"""Outside prose, the fewest words a rule's match must span to count (``detect``)."""
TIE = 1e-12
"""Scores (and window log-odds) this close are equal: sums in another order differ by less."""


def data_class(source: str) -> str:
    """The class an injection in text of ``source`` is reported as."""
    return INDIRECT if source in DATA_SOURCES else DIRECT


class _Candidate(NamedTuple):
    """A rule match (character span) or a window (token span, resolved when reported).
    A tuple: cheap to make and to drop (every text makes one, a flagged text one per
    window at or above the threshold)."""

    score: float
    start: int
    end: int
    how: str  # "model", "rule:<name>" or "tag_payload"
    projection: Projection | None = None
    scanned: str = ""  # for windows: the text whose tokens ``start``/``end`` index
    anchors: tuple[tuple[int, int], ...] | None = None  # for windows: its tokenisation's cuts

    @property
    def tokens(self) -> bool:
        """Whether ``start``/``end`` are token offsets (a window), not characters."""
        return self.anchors is not None

    def span(self) -> tuple[int, int]:
        """The candidate's span in the original text."""
        start, end = self.start, self.end
        if self.anchors is not None:
            start, end = token_char_spans(self.scanned, [(start, end)], self.anchors)[0]
        if self.projection is not None:
            return self.projection.to_original(start, end)
        return start, end


class InjectionDetector:
    """Scores a text read as ``source`` for injection; build once, call from any thread."""

    name = DETECTOR

    def __init__(
        self,
        model: InjectionModel | None = None,
        *,
        rules: RuleSet | None = None,
        thresholds: Mapping[str, float] | None = None,
        normalise: bool = True,
    ) -> None:
        """``thresholds`` override the model's defaults by source (``user``, ``system``,
        ``retrieved``, ``tool_result``) or by reading (``prompt``, ``data``)."""
        self._model = model or packaged_model()
        self._rules = rules or default_rules()
        # only the markers the model weighs (a marker it does not weigh changes no score)
        self._markers = markers(self._model.markers)  # compiled now, not on the first request
        # one RE2 set for the rules and the markers: one pass per scanned text for both
        self._signals = SignalSet((*self._rules.regexes, *self._markers.regexes))
        self._marker_offset = len(self._rules.regexes)
        self._thresholds = {**self._model.thresholds, **(thresholds or {})}
        self._normalise = normalise
        # (data, threshold): the window log-odds of that probability, worked out once (a log
        # and a division per scanned text otherwise); thresholds are a handful per config
        self._floors: dict[tuple[bool, float], float] = {}

    def threshold(self, source: str) -> float:
        """The score at or above which text of ``source`` is reported."""
        default = self._thresholds.get("data" if source in DATA_SOURCES else "prompt", 0.5)
        return self._thresholds.get(source, default)

    def class_thresholds(self) -> dict[str, float]:
        """Per-class thresholds for a ``Scanner`` (the stricter source of each class)."""
        return {
            DIRECT: min(self.threshold("user"), self.threshold("system")),
            INDIRECT: min(self.threshold("retrieved"), self.threshold("tool_result")),
        }

    def detect(
        self,
        text: str,
        source: str = "user",
        *,
        all_scores: bool = False,
        normalised: Normalised | None = None,
        prose: bool = True,
    ) -> list[Hit]:
        """At most one hit of ``data_class(source)``; below the threshold only with
        ``all_scores``. ``normalised`` is ``project(text)`` when the caller has it already
        (the scanner computes it once for every detector). ``prose=False``: text that
        is not prose (a list of names): the model's windows are not scored (its word
        statistics do not hold there) and a rule counts only where it matched a clause
        of ``CLAUSE_WORDS`` words or more (a term alone, such as ``developer mode``, is
        the name of a setting there)."""
        if not text or text.isspace():
            return []
        surrogates = False
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: RE2 needs UTF-8; same-length stand-ins
            text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
            raw = text.encode("utf-8")
            surrogates = True
        data = source in DATA_SOURCES
        threshold = self.threshold(source)
        found = self._candidates(text, raw, None, data, threshold, prose)
        if self._normalise:
            if normalised is None or surrogates:
                normalised = project(text)
            if data:
                for hit in normalised.evasion:
                    if hit.data_class == "evasion.tag_payload":
                        tagged = _Candidate(TAG_PAYLOAD_SCORE, hit.start, hit.end, "tag_payload")
                        found.append(tagged)
            for projection in normalised.projections:
                scanned = projection.text
                found.extend(
                    self._candidates(scanned, utf8(scanned), projection, data, threshold, prose)
                )
        if not found:
            return []
        top = max([candidate.score for candidate in found])
        if top < threshold and not all_scores:  # most text: nothing to report
            return []
        # ties (equal but for rounding) go to the first: the original text before its
        # projections, rules in table order before windows
        best = next(candidate for candidate in found if candidate.score >= top - TIE)
        chosen = [best] if top < threshold else [c for c in found if c.score >= threshold]
        spans = _spans(chosen)
        start = min(s for s, _ in spans)
        end = max(e for _, e in spans)
        meta = {"reading": "data" if data else "prompt", "by": best.how}
        if best.projection is not None:
            meta["projection"] = best.projection.name
        score = round(min(1.0, max(0.0, top)), 4)
        return [Hit(data_class(source), start, end, score, DETECTOR, "", meta)]

    def scan(self, text: str, source: str = "user") -> list[Finding]:
        """The findings of ``text`` read as ``source`` (segment 0; no fingerprint: an
        injection's value is never pseudonymised or matched)."""
        return [
            Finding(hit.data_class, 0, hit.start, hit.end, hit.score, hit.detector, dict(hit.meta))
            for hit in self.detect(text, source)
        ]

    def score(self, text: str, source: str = "user") -> float:
        """The text's injection score in [0, 1] (the best candidate, reported or not)."""
        hits = self.detect(text, source, all_scores=True)
        return hits[0].score if hits else 0.0

    def _candidates(
        self,
        scanned: str,
        raw: bytes,
        projection: Projection | None,
        data: bool,
        threshold: float,
        prose: bool,
    ) -> list[_Candidate]:
        """Rule matches, and in prose the best window plus every window at or above
        ``threshold`` (``raw``: ``scanned`` as UTF-8; ``prose``: see ``detect``)."""
        out: list[_Candidate] = []
        present = sorted(self._signals.present(raw))  # rules and markers: one RE2 set pass
        split = bisect_left(present, self._marker_offset)
        if split:  # a rule is present (rare): its spans
            for hit in self._rules.find(scanned, data=data, raw=raw, present=present[:split]):
                if not prose and len(scanned[hit.start : hit.end].split()) < CLAUSE_WORDS:
                    continue
                how = f"rule:{hit.rule.name}"
                out.append(_Candidate(hit.score, hit.start, hit.end, how, projection))
        if not prose:
            return out
        marked = [index - self._marker_offset for index in present[split:]]
        tokenised = self._markers.tokenise(scanned, raw, marked)
        words, anchors = tokenised.words, tokenised.anchors
        if not words:
            return out
        reading = self._model.indirect if data else self._model.direct
        scorer = reading.scorer
        windows = scorer.log_odds(words, tokenised.found, tokenised.marks)
        best = max(windows)
        floor = self._floors.get((data, threshold))  # compare raw log-odds: one sigmoid per keeper
        if floor is None:
            floor = self._floors[data, threshold] = reading.log_odds(threshold)
        if best < floor:  # the best window only, the last of equals
            last = len(windows) - 1 - windows[::-1].index(best)
            later = windows[last + 1 :]
            if later and max(later) >= best - TIE:  # rare: near-equals
                equals = list(map((best - TIE).__le__, windows))
                last = len(windows) - 1 - equals[::-1].index(True)
            keep = [last]
        else:
            keep = [index for index, z in enumerate(windows) if z >= floor]
        size, step, count = scorer.size, max(scorer.size // 2, 1), len(words)
        for index in keep:
            first = index * step
            probability = reading.probability(windows[index])
            last = min(first + size, count)
            window = _Candidate(probability, first, last, "model", projection, scanned, anchors)
            out.append(window)
        return out


def _spans(chosen: list[_Candidate]) -> list[tuple[int, int]]:
    """Original spans covering the chosen candidates: rule matches as they are, windows
    merged per scanned text (first to last), so at most two token lookups per text."""
    out: list[tuple[int, int]] = []
    merged: dict[int, tuple[_Candidate, int, int]] = {}  # first window, start, end
    for candidate in chosen:
        if not candidate.tokens:
            out.append(candidate.span())
            continue
        key = id(candidate.scanned)
        first, start, end = merged.get(key, (candidate, candidate.start, candidate.end))
        merged[key] = (first, min(start, candidate.start), max(end, candidate.end))
    out.extend(first._replace(start=start, end=end).span() for first, start, end in merged.values())
    return out
