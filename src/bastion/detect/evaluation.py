"""Detector accuracy on labelled JSON Lines: span level for PII, document level otherwise.

Used by ``bastion eval detect`` and by ``bench/detect/accuracy.py`` (which also feeds
Presidio's answers through the same code), so every system is scored by one rule set:

* **PII, span level.** Gold types map to data classes (``PII_CLASSES``); other gold
  types and predictions of other classes are ignored. A prediction is a true positive
  when it overlaps a gold span of the same class by at least half of the gold span;
  each gold span is matched at most once (largest overlap first), so a second
  prediction over an already matched span is a false positive. Exact duplicate
  predictions (same class and span) count once.
* **Documents** (secrets, code, legal, injection): a document is predicted positive
  when any finding of the task's family is present (``secret.*``, ``code.*``,
  ``legal.contract``, ``injection.*``) and is positive when its label is the task's.

The only I/O is reading the given file; the result is a frozen value with ``to_json``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bastion.errors import BastionError

Task = Literal["pii", "secrets", "code", "legal", "injection"]
TASKS: tuple[Task, ...] = ("pii", "secrets", "code", "legal", "injection")
PII_CLASSES: Mapping[str, str] = {
    "PERSON": "pii.person",
    "EMAIL_ADDRESS": "pii.email",
    "PHONE_NUMBER": "pii.phone",
    "CREDIT_CARD": "pii.credit_card",
    "IBAN_CODE": "pii.iban",
    "US_SSN": "pii.us_ssn",
    "IP_ADDRESS": "pii.ip_address",
    "STREET_ADDRESS": "pii.street_address",
    "US_DRIVER_LICENSE": "pii.us_driver_license",
    "GPE": "pii.location",
}
MIN_GOLD_OVERLAP = 0.5
# label in the data -> the task it belongs to ("benign" belongs to none)
_LABEL_TASK: Mapping[str, Task] = {
    "pii": "pii",
    "no_pii": "pii",
    "secret": "secrets",
    "code": "code",
    "legal": "legal",
    "injection": "injection",
}
_POSITIVE_LABEL: Mapping[Task, str] = {
    "secrets": "secret",
    "code": "code",
    "legal": "legal",
    "injection": "injection",
}
# document task -> (class prefix, exact class): a finding of either kind marks the document
_DOCUMENT_CLASSES: Mapping[Task, tuple[str, str]] = {
    "secrets": ("secret.", ""),
    "code": ("code.", ""),
    "legal": ("", "legal.contract"),
    "injection": ("injection.", ""),
}


class EvaluationDataError(BastionError):
    """The labelled file cannot be read or a line is malformed (names file and line)."""


class Prediction(Protocol):
    """What a scan function returns per finding (``bastion.detect.patterns.Hit`` fits)."""

    @property
    def data_class(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


ScanFn = Callable[[str], Sequence[Prediction]]


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text: gold spans are ``(start, end, TYPE)`` in code points."""

    text: str
    label: str
    spans: tuple[tuple[int, int, str], ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Score:
    """True/false positives and false negatives of one class (or the micro sum)."""

    name: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int | None = None  # documents only

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.support if self.support else None

    @property
    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None

    @property
    def false_positive_rate(self) -> float | None:
        if self.tn is None or not self.fp + self.tn:
            return None
        return self.fp / (self.fp + self.tn)

    def to_json(self) -> dict[str, Any]:
        """Counts and rates (rounded to 4 places; None where a rate is undefined)."""
        out: dict[str, Any] = {"name": self.name, "support": self.support}
        out |= {"tp": self.tp, "fp": self.fp, "fn": self.fn}
        if self.tn is not None:
            out["tn"] = self.tn
        for key in ("precision", "recall", "f1"):
            out[key] = _round(getattr(self, key))
        if self.tn is not None:
            out["false_positive_rate"] = _round(self.false_positive_rate)
        return out


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of one file: per-class and micro scores, plus document counts.

    ``fired`` (document tasks) lists each class of the task's family with the number of
    positive and negative documents it fired on, to show where false positives come from.
    """

    task: Task
    level: Literal["span", "document"]
    examples: int
    classes: tuple[Score, ...]
    micro: Score
    fired: tuple[tuple[str, int, int], ...] = ()
    contradictory: int = 0
    """Documents left out because the same text also appears with the other label (no
    detector can score both right; they are counted here so nothing is hidden)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with a stable key and row order."""
        out: dict[str, Any] = {"task": self.task, "level": self.level, "examples": self.examples}
        out["classes"] = [score.to_json() for score in self.classes]
        out["micro"] = self.micro.to_json()
        if self.level == "document":
            out["contradictory"] = self.contradictory
            out["fired"] = [
                {"class": name, "positives": pos, "negatives": neg} for name, pos, neg in self.fired
            ]
        return out


def load_examples(path: Path, *, limit: int | None = None) -> list[Example]:
    """The first ``limit`` (default all) examples of a labelled JSONL file, validated."""
    examples: list[Example] = []
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if limit is not None and len(examples) >= limit:
                    break
                if line.strip():
                    examples.append(_parse_line(line, f"{path}:{number}"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationDataError(f"cannot read {path}: {exc}") from exc
    return examples


def _parse_line(line: str, where: str) -> Example:
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise EvaluationDataError(f"{where}: not valid JSON ({exc.args[0]})") from exc
    if not isinstance(row, dict):
        raise EvaluationDataError(f"{where}: expected a JSON object")
    text, label = row.get("text"), row.get("label")
    if not isinstance(text, str) or not isinstance(label, str):
        raise EvaluationDataError(f'{where}: "text" and "label" must be strings')
    spans = row.get("spans") or []
    if not isinstance(spans, list):
        raise EvaluationDataError(f'{where}: "spans" must be a list of [start, end, "TYPE"]')
    gold: list[tuple[int, int, str]] = []
    for span in spans:
        if not (
            isinstance(span, list)
            and len(span) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) for v in span[:2])
            and isinstance(span[2], str)
            and 0 <= span[0] < span[1] <= len(text)
        ):
            raise EvaluationDataError(
                f'{where}: bad span {span!r}; expected [start, end, "TYPE"] with '
                f"0 <= start < end <= {len(text)} (the text's length in code points)"
            )
        gold.append((span[0], span[1], span[2]))
    source = row.get("source")
    return Example(text, label, tuple(gold), source if isinstance(source, str) else "")


def infer_task(examples: Iterable[Example]) -> Task:
    """The one task the file's labels name; raises EvaluationDataError when not exactly one."""
    tasks = sorted({_LABEL_TASK[e.label] for e in examples if e.label in _LABEL_TASK})
    if len(tasks) != 1:
        found = ", ".join(tasks) or "none"
        raise EvaluationDataError(
            f"cannot tell the task from the labels (tasks found: {found}); "
            f"pass --task {'|'.join(TASKS)}"
        )
    return tasks[0]


def default_source(path: Path) -> str:
    """The segment source to scan a file as: ``retrieved`` for indirect-injection files."""
    return "retrieved" if "indirect" in path.name.lower() else "user"


def evaluate(examples: Sequence[Example], scan: ScanFn, task: Task) -> Report:
    """Run ``scan`` over every example and score it for ``task``."""
    if task == "pii":
        return _evaluate_spans(examples, scan)
    return _evaluate_documents(examples, scan, task)


def match_spans(
    gold: Sequence[tuple[int, int]], predicted: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Pairs (gold index, predicted index) matched one to one, largest overlap first.

    A pair qualifies when the prediction covers at least ``MIN_GOLD_OVERLAP`` of the gold
    span; ties break by position, so the result is deterministic.
    """
    candidates: list[tuple[float, int, int]] = []
    for g, (g_start, g_end) in enumerate(gold):
        for p, (p_start, p_end) in enumerate(predicted):
            overlap = min(g_end, p_end) - max(g_start, p_start)
            if overlap > 0 and overlap >= MIN_GOLD_OVERLAP * (g_end - g_start):
                candidates.append((-overlap / (g_end - g_start), g, p))
    candidates.sort()
    used_gold: set[int] = set()
    used_predicted: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, g, p in candidates:
        if g not in used_gold and p not in used_predicted:
            used_gold.add(g)
            used_predicted.add(p)
            pairs.append((g, p))
    return sorted(pairs)


def _evaluate_spans(examples: Sequence[Example], scan: ScanFn) -> Report:
    mapped = sorted(set(PII_CLASSES.values()))
    counts = {name: [0, 0, 0] for name in mapped}  # tp, fp, fn
    wanted = frozenset(mapped)
    for example in examples:
        predictions = {
            (p.data_class, p.start, p.end) for p in scan(example.text) if p.data_class in wanted
        }
        for name in mapped:
            gold = [(s, e) for s, e, t in example.spans if PII_CLASSES.get(t) == name]
            predicted = sorted((s, e) for c, s, e in predictions if c == name)
            matched = len(match_spans(gold, predicted))
            counts[name][0] += matched
            counts[name][1] += len(predicted) - matched
            counts[name][2] += len(gold) - matched
    classes = tuple(Score(name, *counts[name]) for name in mapped)
    micro = Score("micro", *(sum(row[i] for row in counts.values()) for i in range(3)))
    return Report("pii", "span", len(examples), classes, micro)


def _evaluate_documents(examples: Sequence[Example], scan: ScanFn, task: Task) -> Report:
    prefix, exact = _DOCUMENT_CLASSES[task]
    positive_label = _POSITIVE_LABEL[task]
    tp = fp = fn = tn = 0
    fired_pos: Counter[str] = Counter()
    fired_neg: Counter[str] = Counter()
    labels: dict[str, set[bool]] = {}
    for example in examples:
        labels.setdefault(example.text, set()).add(example.label == positive_label)
    contradictory = {text for text, seen in labels.items() if len(seen) > 1}
    for example in examples:
        if example.text in contradictory:
            continue
        found = {
            p.data_class
            for p in scan(example.text)
            if p.data_class == exact or (prefix and p.data_class.startswith(prefix))
        }
        positive = example.label == positive_label
        (fired_pos if positive else fired_neg).update(found)
        if found:
            tp, fp = (tp + 1, fp) if positive else (tp, fp + 1)
        else:
            fn, tn = (fn + 1, tn) if positive else (fn, tn + 1)
    name = exact or f"{prefix}*"
    score = Score(name, tp, fp, fn, tn)
    fired = tuple(
        (cls, fired_pos[cls], fired_neg[cls]) for cls in sorted(set(fired_pos) | set(fired_neg))
    )
    left_out = sum(1 for example in examples if example.text in contradictory)
    return Report(task, "document", len(examples), (score,), score, fired, left_out)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
