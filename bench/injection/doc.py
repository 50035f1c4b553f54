"""The injection section of docs/accuracy.md, from the latest bench/results/injection-cv-*.json.

``bench.detect.accuracy_doc.render`` appends these lines; change the wording here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.overhead.results import load_results

_TITLES = {
    "direct": "Direct injection (injection-direct.dev.jsonl, read as `user`)",
    "indirect": "Indirect injection (injection-indirect.dev.jsonl, read as `retrieved`)",
}
_GROUPING = {
    "direct": "near-duplicate clusters (word 5-gram MinHash, 128 permutations, LSH 32x4, "
    "Jaccard >= 0.5, union-find)",
    "indirect": "the injected sentence (text under the `INJECTION` span); each benign row "
    "in its injected twin's group",
}


def latest() -> dict[str, Any] | None:
    """The newest saved cross-validation result, if any."""
    found = [d for d in load_results("injection-cv") if d.get("benchmark") == "injection-cv"]
    return found[0] if found else None


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row(label: str, entry: Mapping[str, Any]) -> str:
    cells = [
        label,
        f"{entry['positives']} / {entry['negatives']}",
        _rate(entry["tpr_at_target_fpr"]),
        _rate(entry["tpr"]),
        _rate(entry["fpr"]),
        _rate(entry["precision"]),
        _rate(entry["f1"]),
        _rate(entry["balanced_accuracy"]),
        _rate(entry["auc"]),
    ]
    return "| " + " | ".join(cells) + " |"


def _reading(name: str, reading: Mapping[str, Any]) -> list[str]:
    target = reading["target_fpr"]
    out = [
        f"### {_TITLES.get(name, name)}",
        "",
        f"Groups: {_GROUPING.get(name, '')}. Default threshold {reading['threshold']}; "
        f"target: TPR at FPR <= {target}.",
        "",
        f"| rows | injection / benign | TPR @ FPR <= {target} | TPR | FPR | precision | F1 "
        "| balanced acc. | AUC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fold in reading["cv_folds"]:
        out.append(_row(f"CV fold {fold['fold']}", fold))
    out.append(_row("**CV, all folds pooled**", reading["cv_pooled"]))
    out.append(_row("**held-out groups**", reading["held_out"]))
    points = reading["cv_pooled"]["roc"]
    out += [
        "",
        "Operating points (CV pooled): "
        + "; ".join(f"FPR <= {p['max_fpr']}: TPR {_rate(p['tpr'])}" for p in points)
        + ".",
        "",
    ]
    return out


def section() -> list[str]:
    """The lines of the injection section (a note when no result is saved yet)."""
    doc = latest()
    out = ["## Prompt injection (grouped cross-validation)", ""]
    if doc is None:
        return [*out, "No result yet: run `python -m bench.injection.train`.", ""]
    dirty = " (with uncommitted changes)" if doc.get("dirty") else ""
    settings = doc.get("settings", {})
    out += [
        f"Measured {doc['date']} at commit `{doc['commit']}`{dirty} with `{doc['command']}` "
        f"(bench/results/injection-cv-*.json; fold membership of every row is in that file). "
        "Scores are the whole detector's (RE2 rules, normalised projections, the window "
        "classifier), each row scored by a model that never saw its group. 15 % of the "
        "groups are held out of everything (training, calibration, thresholds) and scored "
        "once by the shipped model. Training-only additions (never scored): "
        + ", ".join(f"{n} hand-written {r} rows" for r, n in settings.get("extra_rows", {}).items())
        + " (bench/injection/extra.py), "
        + _pastes(settings.get("pastes"))
        + _question_pages(settings.get("question_pages"))
        + f"and {settings.get('other_file_negatives', 0)} texts "
        "of the other dev files (70 % by hash) as negatives, dealt into the folds like the "
        "rest.",
        "",
    ]
    for name, reading in doc["readings"].items():
        out += _reading(name, reading)
    others = doc.get("other_files") or {}
    if others:
        out += [
            "### False positives on other text",
            "",
            "The 30 % of the other dev files (contracts, code, personal-data sentences, "
            "secrets) never used in training, read as a prompt and as retrieved data:",
            "",
            "| file | texts | flagged as `user` | flagged as `retrieved` |",
            "|---|---:|---:|---:|",
        ]
        for name, entry in others.items():
            user, data = entry["user"], entry["retrieved"]
            out.append(
                f"| {name}.dev.jsonl | {entry['texts']} | {user['flagged']} "
                f"({_rate(user['fpr'])}) | {data['flagged']} ({_rate(data['fpr'])}) |"
            )
        out.append("")
    return out


def _pastes(pastes: dict[str, int] | None) -> str:
    """The generated technical pastes of the training side, if the run had them."""
    if not pastes:
        return ""
    return (
        f"{pastes['benign']} generated technical pastes (HTML, JSX, XML, Markdown, CSV, "
        f"address lists, logs, configuration, code) as negatives and {pastes['with_instruction']} "
        "with an instruction inside, per reading (bench/injection/pastes.py), "
    )


def _question_pages(pages: dict[str, int] | None) -> str:
    """The generated question pages of the data reading's training side, if any."""
    if not pages:
        return ""
    return (
        f"{pages['benign']} generated question pages (FAQ pages, help articles, surveys, "
        "quizzes, interview guides, forum threads, forms, support tickets, templates with "
        f"blanks) as negatives and {pages['with_instruction']} with an instruction to the "
        "assistant inside, for the indirect reading only (bench/injection/questions.py), "
    )
