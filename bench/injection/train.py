"""``python -m bench.injection.train``: fit the injection classifier, with grouped CV.

Reads ``injection-direct.dev.jsonl`` and ``injection-indirect.dev.jsonl`` from the data
folder (default ../shared/data beside the repository; never copied into the repo) and:

1. groups the rows (``groups``: near-duplicate clusters for direct, the injected
   sentence for indirect), sets 15 % of the groups aside as **held-out** (never trained
   on, not even for calibration or thresholds) and deals the rest into 5 folds;
2. for each fold, trains the window models on the other four folds (plus
   ``training_extras``: hand-written rows, generated pastes and, with
   ``--question-pages``, generated question pages for the data reading) and scores
   the fold's rows with the whole detector
   (rules, projections, both readings) -- these out-of-fold scores are the only
   accuracy reported besides held-out;
3. fits Platt calibration on the out-of-fold window log-odds and picks each source's
   default threshold on the out-of-fold scores (direct: FPR <= 0.5 %, data: FPR <= 1 %,
   half the targets, to leave room on unseen data);
4. trains the shipped models on every non-held-out row, scores the held-out rows, and
   writes ``src/bastion/detect/injection/weights.json`` and
   ``bench/results/injection-cv-<date>-<commit>.json`` (metrics per fold, pooled and
   held-out, ROC operating points, and every row's group and fold).

Deterministic: the same data and code give the same weights.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bastion.detect.injection.detector import InjectionDetector
from bastion.detect.injection.features import (
    DATA_ONLY,
    KNEE,
    counted,
    counted_pair,
    markers,
    pair_key,
    pairs,
    saturate,
    text_of,
    tokens,
    window_bounds,
)
from bastion.detect.injection.metrics import summary
from bastion.detect.injection.model import FORMAT, InjectionModel
from bench.detect import accuracy_doc
from bench.injection import extra, groups, logistic, pastes, questions
from bench.overhead.results import git_commit, write_result
from bench.overhead.targets import REPO

DATA_DIR = REPO.parent / "shared" / "data"
WEIGHTS = REPO / "src" / "bastion" / "detect" / "injection" / "weights.json"
WINDOW = {"direct": 48, "indirect": 32}
L2 = {"direct": 3e-4, "indirect": 3e-4}
DATA_ONLY_SCALE = 3.0
"""The data reading's question-page markers (``features.DATA_ONLY``) enter the fit at
three times their count and their weights are scaled back: L2 holds them back a ninth as
much, so a page of questions is told apart by them rather than by lowering the weight of
every question (13 of the indirect file's 108 injected sentences are a lone question)."""
MIN_DF = 2  # a feature must occur in at least this many training rows
PRUNE = 0.02  # weights smaller than this are dropped from the shipped file
FOLDS = 5
HELD_OUT = 0.15
TARGET_FPR = {"direct": 0.01, "indirect": 0.02}
THRESHOLD_FPR = {"direct": 0.005, "indirect": 0.01}
PASTES = 360  # generated benign technical pastes per reading (``pastes``)
PASTE_ATTACKS = 120  # generated pastes with an instruction inside, per reading
QUESTION_PAGES = 100  # generated question pages (``questions``), data reading, opt-in
QUESTION_ATTACKS = 80  # the same kinds with an instruction to the assistant inside


@dataclass(frozen=True)
class Row:
    line: int
    text: str
    positive: bool
    span: tuple[int, int] | None  # the INJECTION span (indirect rows, generated pastes)


@dataclass(frozen=True)
class Linear:
    """A trained window model before calibration."""

    window: int
    bias: float
    words: dict[str, float]
    pairs: dict[str, float]

    def to_json(self, platt: tuple[float, float]) -> dict[str, Any]:
        return {
            "window": self.window,
            "bias": round(self.bias, 4),
            "platt": [round(platt[0], 5), round(platt[1], 5)],
            "words": self.words,
            "pairs": self.pairs,
        }


def load(path: Path) -> tuple[list[Row], list[dict[str, Any]]]:
    raw = [
        json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()
    ]
    rows = []
    for line, item in enumerate(raw, start=1):
        span = next(((s, e) for s, e, kind in item.get("spans", []) if kind == "INJECTION"), None)
        rows.append(Row(line, item["text"], item["label"] == "injection", span))
    return rows, raw


# --- features -----------------------------------------------------------------------


def _window_features(
    words: Sequence[bytes], start: int, end: int, found: Sequence[tuple[int, str]]
) -> dict[str, float]:
    """A window's features and their values: counts, counted features saturated
    (``features.saturate``), pairs of two counted tokens left out; as the scorer sums."""
    counts: dict[str, int] = {}
    for position, name in found:
        if start <= position < end:
            counts[name] = counts.get(name, 0) + 1
    for word in map(text_of, words[start:end]):
        counts[word] = counts.get(word, 0) + 1
    for pair in pairs(words[start:end]):
        key = pair_key(pair)
        counts[key] = counts.get(key, 0) + 1
    return {
        feature: saturate(times) if counted(feature) else float(times)
        for feature, times in counts.items()
        if not counted_pair(feature)
    }


@dataclass
class Instances:
    features: list[dict[str, float]]
    labels: list[float]
    weights: list[float]


def instances(rows: Iterable[Row], reading: str) -> Instances:
    """Training windows: every window of a row without a span carries the row's label; a
    window of a row with an injected span (indirect rows, generated pastes) is positive
    when it holds at least half of the injected tokens, negative when it holds none, and
    left out in between."""
    size = WINDOW[reading]
    out = Instances([], [], [])
    for row in rows:
        words, found = markers().tokens(row.text)
        if not words:
            continue
        first = last = -1
        if row.span is not None:
            first = len(tokens(row.text[: row.span[0]]))
            last = len(tokens(row.text[: row.span[1]]))
        for start, end in window_bounds(len(words), size):
            if row.span is None:
                label = 1.0 if row.positive else 0.0
            else:
                overlap = max(0, min(end, last) - max(start, first))
                if overlap >= 0.5 * max(last - first, 1):
                    label = 1.0
                elif overlap == 0:
                    label = 0.0
                else:
                    continue
            out.features.append(_window_features(words, start, end, found))
            out.labels.append(label)
            out.weights.append(1.0)
    labels = np.array(out.labels)
    positives, negatives = labels.sum(), len(labels) - labels.sum()
    if positives and negatives:  # balance the classes
        out.weights = [negatives / positives if y else 1.0 for y in out.labels]
    return out


COMPOSITES = 600


def composites(rows: Sequence[Row], prose: Sequence[Row], count: int = COMPOSITES) -> list[Row]:
    """Benign documents made of a benign training context with other text around it.

    The indirect file's injections are lines of prose inside tables, e-mails and code, so
    a model fitted on it alone learns that any prose next to a table is an attack. Real
    retrieved documents mix tables, paragraphs, questions and code; these composites (a
    benign context of the training folds joined with one or two texts of the other dev
    files' training share, in random order) teach it otherwise."""
    contexts = [row.text for row in rows if not row.positive]
    others = [row.text for row in prose]
    if not contexts or not others:
        return []
    rng = random.Random(11)
    out: list[Row] = []
    for _ in range(count):
        parts = [rng.choice(contexts)] + [
            rng.choice(others)[:800] for _ in range(rng.randint(1, 2))
        ]
        rng.shuffle(parts)
        out.append(Row(0, rng.choice(("\n", "\n\n")).join(parts), False, None))
    return out


_FUNCTION_WORDS = frozenset((
    "the", "a", "an", "of", "for", "to", "in", "on", "at", "by", "with", "from", "and", "or",
    "but", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this",
    "that", "these", "those", "there", "here", "than", "then", "so", "such", "which", "who",
    "whom", "whose", "what", "when", "where", "while", "if", "into", "over", "under", "about",
    "after", "before", "between", "during", "per", "via", "not", "no", "has", "have", "had",
    "do", "does", "did", "will", "would", "can", "could", "shall", "should", "may", "might",
    "must", "our", "we", "us", "they", "them", "their", "he", "she", "his", "her", "i", "me",
    "my", "one", "two", "also", "more", "most", "other", "some", "any", "all", "each", "very",
    "just", "only", "¶",
))  # fmt: skip
"""Prose has these and tables do not: in data they would teach "prose = attack", so the
data reading leaves them (and pairs made only of them) out. Second-person words stay."""


def _layout(feature: str) -> bool:
    """Table rules and numbers: in data they tell a table from prose, not an attack from a
    document, so the data reading does not learn them (a table's many pipes and numbers
    would otherwise make any prose look like an attack by contrast)."""
    return all(
        part == "|" or part.strip("0") == "" or part in _FUNCTION_WORDS
        for part in feature.split(" ")
    )


def train(
    rows: Sequence[Row], reading: str, extra_rows: Sequence[Row], *, question_markers: bool = False
) -> Linear:
    """A window model of ``reading``; the question-page markers (``features.DATA_ONLY``)
    are learned only by the data reading and only with ``question_markers``."""
    if reading == "indirect":
        extra_rows = [*extra_rows, *composites(rows, [r for r in extra_rows if r.line < 0])]
    data = instances([*rows, *extra_rows], reading)
    frequency: dict[str, int] = {}
    for row in [*rows, *extra_rows]:
        words, marked = markers().tokens(row.text)
        found = {name for _, name in marked}
        for feature in set(map(text_of, words)) | {pair_key(p) for p in pairs(words)} | found:
            frequency[feature] = frequency.get(feature, 0) + 1
    vocabulary = sorted(
        f
        for f, n in frequency.items()
        if n >= MIN_DF
        and not counted_pair(f)
        and not (reading == "indirect" and _layout(f))
        and not (f in DATA_ONLY and not (question_markers and reading == "indirect"))
    )
    column = {feature: index for index, feature in enumerate(vocabulary)}
    scale = np.array([DATA_ONLY_SCALE if f in DATA_ONLY else 1.0 for f in vocabulary])
    matrix = logistic.build(
        [{column[f]: v * scale[column[f]] for f, v in window.items() if f in column}
         for window in data.features],
        len(vocabulary),
    )  # fmt: skip
    weights, bias = logistic.fit(
        matrix, np.array(data.labels), np.array(data.weights), l2=L2[reading]
    )
    weights = weights * scale  # the weights of the features as the scorer counts them
    words: dict[str, float] = {}
    pair_weights: dict[str, float] = {}
    for feature, weight in zip(vocabulary, weights, strict=True):
        if abs(weight) < PRUNE:
            continue
        (pair_weights if " " in feature else words)[feature] = round(float(weight), 3)
    return Linear(WINDOW[reading], float(bias), words, pair_weights)


# --- scoring ------------------------------------------------------------------------


def model_of(direct: Linear, indirect: Linear, platt: Mapping[str, tuple[float, float]],
             thresholds: Mapping[str, float]) -> InjectionModel:  # fmt: skip
    return InjectionModel.from_json(
        {
            "format": FORMAT,
            "direct": direct.to_json(platt["direct"]),
            "indirect": indirect.to_json(platt["indirect"]),
            "thresholds": dict(thresholds),
        }
    )


def max_log_odds(linear: Linear, text: str) -> float:
    """The best window's raw log-odds (for calibration): the original text only."""
    model = model_of(linear, linear, {"direct": (1.0, 0.0), "indirect": (1.0, 0.0)}, {})
    words, found = markers().tokens(text)
    return max(z for z, _, _ in model.direct.scorer.scores(words or [b""], found))


def detector_scores(model: InjectionModel, rows: Sequence[Row], source: str) -> list[float]:
    detector = InjectionDetector(model)
    return [detector.score(row.text, source) for row in rows]


# --- the run ------------------------------------------------------------------------


OTHER_FILES = ("legal", "code", "pii", "secrets")
OTHER_TRAIN_SHARE = 0.7


def other_negatives(data_dir: Path) -> tuple[list[Row], dict[str, list[str]]]:
    """Texts of the other dev files (contracts, code, personal data, secrets): none of
    them is an injection. A fixed 70 % (by a hash of the text) joins the negatives of
    every fold's training side; the other 30 % per file only measures false positives on
    text unlike the injection files' own negatives."""
    training: list[Row] = []
    checks: dict[str, list[str]] = {}
    for name in OTHER_FILES:
        path = data_dir / f"{name}.dev.jsonl"
        if not path.exists():
            continue
        for line, text in enumerate(_texts(path), start=1):
            digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4)
            if int.from_bytes(digest.digest()) / 2**32 < OTHER_TRAIN_SHARE:
                training.append(Row(-line, text, False, None))
            else:
                checks.setdefault(name, []).append(text)
    return training, checks


def _texts(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").split("\n")
    return [json.loads(line)["text"] for line in lines if line.strip()]


def _extra_rows() -> dict[str, list[Row]]:
    direct = [Row(0, t, True, None) for t in extra.DIRECT_ATTACKS]
    direct += [Row(0, t, False, None) for t in extra.DIRECT_BENIGN]
    indirect: list[Row] = []
    for context, attack in extra.INDIRECT_ATTACKS:
        text = f"{context} {attack}"
        indirect.append(Row(0, text, True, (len(context) + 1, len(text))))
        indirect.append(Row(0, context, False, None))
    indirect += [Row(0, t, False, None) for t in extra.INDIRECT_BENIGN]
    return {"direct": direct, "indirect": indirect}


def _paste_rows() -> dict[str, list[Row]]:
    """Generated technical pastes (``pastes``), clean and with an instruction inside (its
    span labels the windows), for each reading."""
    benign = [Row(0, t, False, None) for t in pastes.benign(PASTES)]
    sentences = {"direct": extra.DIRECT_ATTACKS, "indirect": [a for _, a in extra.INDIRECT_ATTACKS]}
    carried = {
        reading: [Row(0, text, True, (start, end))
                  for text, start, end in pastes.attacks(sentences[reading], PASTE_ATTACKS)]
        for reading in ("direct", "indirect")
    }  # fmt: skip
    return {reading: [*benign, *rows] for reading, rows in carried.items()}


def _question_rows() -> dict[str, list[Row]]:
    """Generated question pages (``questions``: FAQ pages, surveys, quizzes, forms,
    tickets), clean and with an instruction to the assistant inside (its span labels the
    windows), for the data reading only: in a prompt they are the user's own text."""
    benign = [Row(0, t, False, None) for t in questions.benign(QUESTION_PAGES)]
    sentences = [a for _, a in extra.INDIRECT_ATTACKS]
    carried = [Row(0, text, True, (start, end))
               for text, start, end in questions.attacks(QUESTION_ATTACKS, sentences)]  # fmt: skip
    return {"direct": [], "indirect": [*benign, *carried]}


def training_extras(question_pages: bool = False) -> dict[str, list[Row]]:
    """Rows every fold trains on besides the dev files', by reading: hand-written
    (``extra``), generated pastes (``pastes``) and, with ``question_pages``, generated
    question pages (``questions``)."""
    parts = (_extra_rows(), _paste_rows(), *([_question_rows()] if question_pages else []))
    return {reading: [row for part in parts for row in part[reading]]
            for reading in ("direct", "indirect")}  # fmt: skip


def other_fold(row: Row) -> int:
    """The fold of a row of the other dev files (by a hash of its text)."""
    digest = hashlib.blake2b(row.text.encode("utf-8", "surrogatepass"), digest_size=4, salt=b"f")
    return int.from_bytes(digest.digest()) % FOLDS


def cross_validate(
    reading: str, rows: Sequence[Row], fold_of: Sequence[int], extras: Sequence[Row],
    others: Sequence[Row], log: Callable[[str], None], question_markers: bool = False,
) -> tuple[list[float], list[float], list[Linear]]:  # fmt: skip
    """Out-of-fold raw log-odds per row (NaN for held-out rows) and per other-file row,
    and each fold's model. Other-file rows are dealt into the folds too, so calibration
    and thresholds also see scores of text unlike the injection files' negatives."""
    oof = [float("nan")] * len(rows)
    oof_other = [float("nan")] * len(others)
    models: list[Linear] = []
    for fold in range(FOLDS):
        started = time.monotonic()
        training = [r for r, f in zip(rows, fold_of, strict=True) if f not in (fold, -1)]
        kept = [r for r in others if other_fold(r) != fold]
        linear = train(training, reading, [*extras, *kept], question_markers=question_markers)
        models.append(linear)
        for index, (row, f) in enumerate(zip(rows, fold_of, strict=True)):
            if f == fold:
                oof[index] = max_log_odds(linear, row.text)
        for index, row in enumerate(others):
            if other_fold(row) == fold:
                oof_other[index] = max_log_odds(linear, row.text)
        size = len(linear.words) + len(linear.pairs)
        elapsed = time.monotonic() - started
        log(
            f"  {reading} fold {fold}: {len(training)} training rows, {size} weights, "
            f"{elapsed:.1f} s"
        )
    return oof, oof_other, models


def run(
    data_dir: Path, log: Callable[[str], None], *, question_pages: bool = False
) -> dict[str, Any]:
    """The whole run; ``question_pages``: the data reading also trains on generated
    question pages with its question-page markers (``--question-pages``)."""
    files = {
        "direct": data_dir / "injection-direct.dev.jsonl",
        "indirect": data_dir / "injection-indirect.dev.jsonl",
    }
    rows: dict[str, list[Row]] = {}
    group_of: dict[str, list[str]] = {}
    fold_of: dict[str, list[int]] = {}
    for reading, path in files.items():
        rows[reading], raw = load(path)
        keys = groups.direct_groups(raw) if reading == "direct" else groups.indirect_groups(raw)
        group_of[reading] = keys
        fold_of[reading], _ = groups.folds(keys, FOLDS, HELD_OUT)
        log(f"{path.name}: {len(raw)} rows, {len(set(keys))} groups")
    hand_written = _extra_rows()
    extras = training_extras(question_pages)
    others, checks = other_negatives(data_dir)
    log(f"other dev files: {len(others)} training negatives, "
        f"{sum(len(v) for v in checks.values())} held for false-positive checks")  # fmt: skip

    oof_z: dict[str, list[float]] = {}
    other_z: dict[str, list[float]] = {}
    fold_models: dict[str, list[Linear]] = {}
    for reading in files:
        oof_z[reading], other_z[reading], fold_models[reading] = cross_validate(
            reading, rows[reading], fold_of[reading], extras[reading], others, log,
            question_pages,
        )  # fmt: skip
    platt: dict[str, tuple[float, float]] = {}
    for reading in files:
        mask = [f >= 0 for f in fold_of[reading]]
        z = [v for v, m in zip(oof_z[reading], mask, strict=True) if m] + other_z[reading]
        y = [float(r.positive) for r, m in zip(rows[reading], mask, strict=True) if m]
        y += [0.0] * len(others)
        platt[reading] = logistic.platt(np.array(z), np.array(y))
    log(f"platt: {platt}")

    final = {reading: train([r for r, f in zip(rows[reading], fold_of[reading], strict=True)
                             if f >= 0], reading, [*extras[reading], *others],
                            question_markers=question_pages)
             for reading in files}  # fmt: skip
    source = {"direct": "user", "indirect": "retrieved"}
    oof_scores: dict[str, list[float]] = {reading: [float("nan")] * len(rows[reading])
                                          for reading in files}  # fmt: skip
    for reading in files:
        for fold in range(FOLDS):
            direct = fold_models["direct"][fold] if reading == "direct" else final["direct"]
            indirect = fold_models["indirect"][fold] if reading == "indirect" else final["indirect"]
            model = model_of(direct, indirect, platt, {"prompt": 0.5, "data": 0.5})
            members = [i for i, f in enumerate(fold_of[reading]) if f == fold]
            scores = detector_scores(model, [rows[reading][i] for i in members], source[reading])
            for i, score in zip(members, scores, strict=True):
                oof_scores[reading][i] = score

    thresholds: dict[str, float] = {}
    for reading in files:
        labels = [
            r.positive for r, f in zip(rows[reading], fold_of[reading], strict=True) if f >= 0
        ]
        scores = [s for s, f in zip(oof_scores[reading], fold_of[reading], strict=True) if f >= 0]
        thresholds["prompt" if reading == "direct" else "data"] = _threshold(
            scores, labels, THRESHOLD_FPR[reading]
        )
    log(f"thresholds: {thresholds}")

    shipped = model_of(final["direct"], final["indirect"], platt, thresholds)
    report: dict[str, Any] = {}
    for reading in files:
        held = [i for i, f in enumerate(fold_of[reading]) if f < 0]
        held_scores = detector_scores(shipped, [rows[reading][i] for i in held], source[reading])
        report[reading] = _report(
            reading, rows[reading], fold_of[reading], oof_scores[reading],
            dict(zip(held, held_scores, strict=True)), thresholds, group_of[reading],
        )  # fmt: skip
    detector = InjectionDetector(shipped)
    other_fpr: dict[str, dict[str, Any]] = {}
    for name, texts in checks.items():
        entry: dict[str, Any] = {"texts": len(texts)}
        for src in source.values():
            flagged = sum(1 for text in texts if detector.detect(text, src))
            entry[src] = {"flagged": flagged, "fpr": round(flagged / len(texts), 4)}
        other_fpr[name] = entry
    log(f"false positives on the other dev files' check share: {other_fpr}")
    weights = {
        "format": FORMAT,
        "trained": {
            "script": "bench/injection/train.py",
            "windows": WINDOW,
            "l2": L2,
            "prune": PRUNE,
            "rows": {r: sum(1 for f in fold_of[r] if f >= 0) for r in files},
            "extra_rows": {r: len(hand_written[r]) for r in files},
            "pastes": {"benign": PASTES, "with_instruction": PASTE_ATTACKS},
            "knee": KNEE,
            "other_file_negatives": len(others),
            **(
                {
                    "question_pages": {
                        "benign": QUESTION_PAGES,
                        "with_instruction": QUESTION_ATTACKS,
                    },
                    "data_only_scale": DATA_ONLY_SCALE,
                }
                if question_pages
                else {}
            ),
        },
        "thresholds": thresholds,
        "direct": final["direct"].to_json(platt["direct"]),
        "indirect": final["indirect"].to_json(platt["indirect"]),
    }
    return {
        "weights": weights,
        "report": report,
        "platt": platt,
        "thresholds": thresholds,
        "other_files": other_fpr,
    }


def _threshold(scores: Sequence[float], labels: Sequence[bool], fpr: float) -> float:
    """The lowest threshold (>= 0.5) whose false-positive rate is at most ``fpr``."""
    negatives = sorted((s for s, y in zip(scores, labels, strict=True) if not y), reverse=True)
    allowed = int(fpr * len(negatives))
    cut = negatives[allowed] if allowed < len(negatives) else 0.0  # must score above this
    return round(max(0.5, min(0.99, cut + 1e-4)), 4)


def _report(
    reading: str, rows: Sequence[Row], fold_of: Sequence[int], oof: Sequence[float],
    held: Mapping[int, float], thresholds: Mapping[str, float], group_of: Sequence[str],
) -> dict[str, Any]:  # fmt: skip
    threshold = thresholds["prompt" if reading == "direct" else "data"]
    target = TARGET_FPR[reading]
    per_fold = []
    for fold in range(FOLDS):
        members = [i for i, f in enumerate(fold_of) if f == fold]
        per_fold.append(
            {"fold": fold, **summary([oof[i] for i in members],
                                     [rows[i].positive for i in members], threshold, target)}
        )  # fmt: skip
    pooled_members = [i for i, f in enumerate(fold_of) if f >= 0]
    pooled = summary(
        [oof[i] for i in pooled_members], [rows[i].positive for i in pooled_members],
        threshold, target,
    )  # fmt: skip
    held_members = sorted(held)
    held_out = summary(
        [held[i] for i in held_members], [rows[i].positive for i in held_members],
        threshold, target,
    )  # fmt: skip
    return {
        "threshold": threshold,
        "target_fpr": target,
        "cv_folds": per_fold,
        "cv_pooled": pooled,
        "held_out": held_out,
        "membership": {  # per row of the file, in order: line number, group, fold (-1: held out)
            "line": [row.line for row in rows],
            "group": list(group_of),
            "fold": list(fold_of),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.injection.train", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--no-save", action="store_true", help="print only")
    parser.add_argument(
        "--question-pages",
        action="store_true",
        help="also train the data reading on generated question pages, with its "
        "question-page markers (experimental: see bench/injection/questions.py)",
    )
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    outcome = run(
        args.data_dir, lambda message: print(message, flush=True),
        question_pages=args.question_pages,
    )  # fmt: skip
    for reading, entry in outcome["report"].items():
        pooled, held = entry["cv_pooled"], entry["held_out"]
        print(
            f"{reading}: CV TPR@FPR<={entry['target_fpr']} {pooled['tpr_at_target_fpr']:.3f} "
            f"(threshold {entry['threshold']}: TPR {pooled['tpr']:.3f} FPR {pooled['fpr']:.3f} "
            f"BA {pooled['balanced_accuracy']:.3f}); held-out TPR {held['tpr']:.3f} "
            f"FPR {held['fpr']:.3f} BA {held['balanced_accuracy']:.3f}"
        )
    if args.no_save:
        return 0
    WEIGHTS.write_text(json.dumps(outcome["weights"], sort_keys=True, separators=(",", ":")) + "\n")
    commit, dirty = git_commit()
    document = {
        "benchmark": "injection-cv",
        "command": "python -m bench.injection.train",
        "commit": commit,
        "dirty": dirty,
        "date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "elapsed_s": round(time.monotonic() - clock, 1),
        "data_dir": str(args.data_dir),
        "settings": outcome["weights"]["trained"],
        "platt": outcome["platt"],
        "thresholds": outcome["thresholds"],
        "readings": outcome["report"],
        "other_files": outcome["other_files"],
    }
    path = write_result("injection-cv", document)
    accuracy_doc.regenerate()
    print(f"saved {path.relative_to(REPO)} and {WEIGHTS.relative_to(REPO)}; docs/accuracy.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
