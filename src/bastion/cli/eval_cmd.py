"""``bastion eval detect|injection``: how well the detectors do on a labelled JSON Lines file.

Scores come from ``bastion.detect.evaluation`` (span level for PII, document level for
secrets, code, legal and injection; the rules are in that module's docstring). ``eval
injection`` scores the injection detector alone from its scores
(``bastion.detect.injection.metrics``: the counting the committed cross-validation
results use). A missing or malformed file ends with exit code 1 and a message naming
file and line.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import click

from bastion.cli._context import (
    config_option,
    echo_json,
    echo_table,
    json_option,
    load_cli_config,
)
from bastion.config.schema import DetectorsConfig
from bastion.detect.catalog import TIERS, Tier, configured_tier
from bastion.detect.evaluation import (
    TASKS,
    EvaluationDataError,
    Prediction,
    Report,
    ScanFn,
    Score,
    Task,
    default_source,
    evaluate,
    infer_task,
    load_examples,
)
from bastion.errors import BastionError

_SOURCES = ("auto", "user", "system", "retrieved", "tool_result")


@click.group("eval")
def eval_group() -> None:
    """Measure detector accuracy on labelled data."""


@eval_group.command("detect")
@config_option
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='Labelled JSON Lines: {"text", "label", "spans": [[start, end, "TYPE"]], ...}.',
)
@click.option(
    "--task",
    type=click.Choice(TASKS),
    default=None,
    help="What to score (default: named by the file's labels).",
)
@click.option(
    "--source",
    type=click.Choice(_SOURCES),
    default="auto",
    show_default=True,
    help="Segment source to scan as; auto = retrieved for *indirect* files, else user.",
)
@click.option(
    "--tier",
    type=click.Choice(["fast", "tagger", "ner"]),
    default=None,
    help="Detectors to run: fast (patterns, normalisation, code, legal), tagger (+ names, "
    "places, addresses), ner (+ spaCy, optional extra). Default: as configured.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score the first N only.")
@json_option
def detect(
    config_file: Path | None,
    data_file: Path,
    task: Task | None,
    source: str,
    tier: Tier | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Score the detectors (as --config sets them up) on the --data file."""
    detectors = load_cli_config(config_file).detectors
    try:
        examples = load_examples(data_file, limit=limit)
        chosen: Task = task or infer_task(examples)
    except EvaluationDataError as exc:
        raise click.ClickException(str(exc)) from exc
    segment_source = default_source(data_file) if source == "auto" else source
    chosen_tier: Tier = tier or configured_tier(detectors)
    scan = _scan_function(detectors, chosen_tier, segment_source)
    started = time.perf_counter()
    try:
        report = evaluate(examples, scan, chosen)
    except BastionError as exc:  # e.g. the NER tier's model, loaded on first use, is missing
        raise click.ClickException(f"scanning failed: {exc}") from exc
    elapsed = time.perf_counter() - started
    tiers = list(TIERS[: TIERS.index(chosen_tier) + 1])
    if as_json:
        echo_json(
            {"data": str(data_file), "source": segment_source, "tiers": tiers, **report.to_json()}
        )
        return
    click.echo(
        f"{data_file.name}: task {report.task}, {report.level} level, "
        f"{report.examples} examples, tiers {'+'.join(tiers)}, source {segment_source} "
        f"({elapsed:.1f} s)"
    )
    if report.level == "span":
        _echo_spans(report)
    else:
        _echo_documents(report)


def _scan_function(detectors: DetectorsConfig, tier: Tier, source: str) -> ScanFn:
    """The scanner's ``scan`` bound to ``source``; a missing optional tier exits 1."""
    from bastion.detect.catalog import build_scanner

    try:
        scanner = build_scanner(detectors, tier=tier)
    except (BastionError, ImportError) as exc:
        hint = " (the NER tier is an optional extra; see the install docs)" if tier == "ner" else ""
        raise click.ClickException(f"cannot build the scanner: {exc}{hint}") from exc

    def scan(text: str) -> Sequence[Prediction]:
        return scanner.scan(text, source=source).findings

    return scan


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _row(score: Score) -> list[str]:
    return [
        score.name,
        str(score.support),
        str(score.tp),
        str(score.fp),
        str(score.fn),
        _rate(score.precision),
        _rate(score.recall),
        _rate(score.f1),
    ]


def _echo_spans(report: Report) -> None:
    rows = [_row(score) for score in report.classes] + [_row(report.micro)]
    echo_table(["CLASS", "SUPPORT", "TP", "FP", "FN", "PRECISION", "RECALL", "F1"], rows)


def _echo_documents(report: Report) -> None:
    score = report.micro
    negatives = score.fp + (score.tn or 0)
    click.echo(f"{score.support} positive and {negatives} negative documents")
    if report.contradictory:
        click.echo(
            f"{report.contradictory} documents left out: the same text appears with both labels"
        )
    headers = ["FINDING", "SUPPORT", "TP", "FP", "FN", "PRECISION", "RECALL", "F1"]
    echo_table(
        [*headers, "TN", "FP RATE"],
        [[*_row(score), str(score.tn), _rate(score.false_positive_rate)]],
    )
    if report.fired:
        click.echo("")
        rows = [[name, str(pos), str(neg)] for name, pos, neg in report.fired]
        echo_table(["FIRED CLASS", "ON POSITIVES", "ON NEGATIVES"], rows)


@eval_group.command("injection")
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='Labelled JSON Lines: {"text", "label"}; label "injection" is positive, any other '
    "label negative.",
)
@click.option(
    "--source",
    type=click.Choice(_SOURCES),
    default="auto",
    show_default=True,
    help="Read the texts as this source; auto = retrieved for *indirect* files, else user.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Report at this score instead of the source's default threshold.",
)
@click.option(
    "--all-scores",
    is_flag=True,
    help="Also print the ROC operating points (best TPR within each FPR budget) and AUC; "
    "with --json, every document's score.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score the first N only.")
@json_option
def injection(
    data_file: Path,
    source: str,
    threshold: float | None,
    all_scores: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """Score injection detection on the --data file: TPR, FPR, precision, F1, balanced
    accuracy at the threshold (and the ROC operating points with --all-scores)."""
    from bastion.detect.injection import InjectionDetector
    from bastion.detect.injection.metrics import at_threshold, auc, roc_points

    try:
        examples = load_examples(data_file, limit=limit)
    except EvaluationDataError as exc:
        raise click.ClickException(str(exc)) from exc
    if not examples:
        raise click.ClickException(f"{data_file}: no examples")
    segment_source = default_source(data_file) if source == "auto" else source
    detector = InjectionDetector()
    cut = detector.threshold(segment_source) if threshold is None else threshold
    started = time.perf_counter()
    scores = [detector.score(example.text, segment_source) for example in examples]
    elapsed = time.perf_counter() - started
    labels = [example.label == "injection" for example in examples]
    result = at_threshold(scores, labels, cut)
    report: dict[str, object] = {"data": str(data_file), "source": segment_source, **result}
    if all_scores:
        report["auc"] = auc(scores, labels)
        report["roc"] = roc_points(scores, labels)
    if as_json:
        if all_scores:
            report["scores"] = [round(score, 4) for score in scores]
        echo_json(report)
        return
    click.echo(
        f"{data_file.name}: {len(examples)} examples ({result['positives']} injection, "
        f"{result['negatives']} other), source {segment_source}, threshold {cut:.4f} "
        f"({elapsed:.1f} s)"
    )
    names = ["TPR", "FPR", "PRECISION", "F1", "BALANCED ACC"]
    keys = ["tpr", "fpr", "precision", "f1", "balanced_accuracy"]
    echo_table(
        ["TP", "FP", "FN", "TN", *names],
        [[str(result[k]) for k in ("tp", "fp", "fn", "tn")] + [_rate(result[key]) for key in keys]],
    )
    if all_scores:
        click.echo(f"\nAUC {_rate(auc(scores, labels))}; operating points:")
        echo_table(
            ["MAX FPR", "THRESHOLD", "TPR", "FPR"],
            [
                [f"{p['max_fpr']}", _rate(p["threshold"]), _rate(p["tpr"]), _rate(p["fpr"])]
                for p in roc_points(scores, labels)
            ],
        )
