"""docs/accuracy.md, generated from the latest bench/results/accuracy-*.json.

The page is rewritten whole (it says so at the top); change the wording here, never in
the generated file. Full runs win over ``--limit`` runs when both exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bastion.detect.evaluation import MIN_GOLD_OVERLAP, PII_CLASSES
from bench.injection import doc as injection_doc
from bench.overhead.results import load_results
from bench.overhead.targets import REPO

DOC = REPO / "docs" / "accuracy.md"
Doc = Mapping[str, Any]
_SHORT = {
    "bastion-fast": "Bastion fast",
    "bastion-tagger": "Bastion + tagger",
    "bastion-ner": "Bastion + tagger + NER",
    "presidio-spacy": "Presidio spaCy sm",
    "presidio-patterns": "Presidio patterns",
}

_METHOD = f"""\
## Method

* **Same code for everyone.** Every system's findings go through
  `bastion.detect.evaluation` (what `bastion eval detect` runs), with the same class
  mapping and the same matching rule. Presidio runs in its own virtualenv
  (`bench/.venv-presidio`) behind a pipe; its entity types are renamed to Bastion's
  classes (PERSON → pii.person, LOCATION → pii.location, and so on) before scoring.
* **PII, span level.** Gold types map to classes:
  {", ".join(f"{k} → {v}" for k, v in PII_CLASSES.items())}. Other gold types
  (ORGANIZATION, DATE_TIME, TITLE, ...) and predictions of other classes are ignored. A
  prediction is a true positive when it overlaps a gold span of the same class by at
  least {MIN_GOLD_OVERLAP:.0%} of the gold span; each gold span is matched at most once
  (largest overlap first), so a second prediction over the same span is a false
  positive; exact duplicates count once. Micro averages sum the counts over classes.
* **Documents.** Secrets, code, legal and injection files are scored per document: a
  document is predicted positive when any finding of the task's family is present
  (`secret.*`, `code.*`, `legal.contract`, `injection.*`); the false-positive rate is
  over the file's negatives (label `benign`). Files whose name contains `indirect` are
  scanned as `retrieved` text, all others as `user` text.
* **Thresholds.** Bastion reports findings at or above each class's threshold (its
  defaults); Presidio runs with its default score threshold (0), so every result it
  returns counts. Presidio has no street-address recognizer (pii.street_address is
  always missed) and no detectors for secrets, code, legal text or injections (n/a).
* **Data.** The shared development files (`*.dev.jsonl`); see their README for sources,
  licences and known weaknesses (the PII set is synthetic, English and US-centred).
  Evaluators also use held-out data from other sources; expect lower figures there.
"""


def latest() -> dict[str, Any] | None:
    """The newest full accuracy result (or the newest of any kind when none is full)."""
    documents = load_results("accuracy")
    full = [d for d in documents if d.get("mode") == "full"]
    chosen: dict[str, Any] | None = (full or documents or [None])[0]
    return chosen


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _prf(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "n/a"
    return f"{_rate(row['precision'])} / {_rate(row['recall'])} / {_rate(row['f1'])}"


def _systems_table(doc: Doc) -> list[str]:
    lines = ["| system | what runs | status |", "|---|---|---|"]
    for name, system in doc["systems"].items():
        info = system.get("info") or {}
        versions = info.get("versions") or {}
        model = info.get("model") or {}
        what = system["label"]
        if versions:
            what += f"; presidio-analyzer {versions.get('presidio-analyzer')}"
        if versions and name == "presidio-spacy":
            what += (
                f", spaCy {versions.get('spacy')}, model {model.get('name')} "
                f"{model.get('version')} (pipeline {', '.join(model.get('pipeline') or [])})"
            )
        failures: dict[str, list[str]] = {}
        for entry in doc["files"]:
            reason = str(entry["systems"].get(name, {}).get("na", ""))
            if reason.startswith("failed"):
                failures.setdefault(reason, []).append(entry["file"])
        status = "ran" if system["available"] else f"not run: {system.get('reason')}"
        if failures:
            status = "; ".join(f"{r} ({', '.join(files)})" for r, files in failures.items())
        lines.append(f"| {_SHORT.get(name, name)} | {what} | {status} |")
    return lines


def _pii_section(entry: Doc, names: list[str]) -> list[str]:
    out = [
        f"### {entry['file']} ({entry['examples']} texts, span level)",
        "",
        "Precision / recall / F1 per class:",
        "",
        "| class | support | " + " | ".join(_SHORT.get(n, n) for n in names) + " |",
        "|---|---:|" + "---|" * len(names),
    ]
    reports = entry["systems"]
    first = next((r for r in reports.values() if "classes" in r), None)
    if first is None:
        return [*out, "", "No system ran on this file."]
    for index, row in enumerate([*first["classes"], first["micro"]]):
        cells = []
        for name in names:
            report = reports.get(name, {})
            rows = [*report.get("classes", []), report.get("micro")] if "classes" in report else []
            cells.append(_prf(rows[index] if rows else None))
        label = "**micro**" if row["name"] == "micro" else f"`{row['name']}`"
        out.append(f"| {label} | {row['support']} | " + " | ".join(cells) + " |")
    return out


def _documents_table(files: list[Doc], names: list[str]) -> list[str]:
    out = [
        "| file | task | positives / negatives | "
        + " | ".join(_SHORT.get(n, n) for n in names)
        + " |",
        "|---|---|---:|" + "---|" * len(names),
    ]
    for entry in files:
        reports = entry["systems"]
        first = next((r for r in reports.values() if "micro" in r), None)
        counts = "n/a"
        if first is not None:
            micro = first["micro"]
            counts = f"{micro['support']} / {micro['fp'] + micro['tn']}"
        cells = []
        for name in names:
            micro = reports.get(name, {}).get("micro")
            cells.append(
                "n/a"
                if micro is None
                else f"{_prf(micro)} · FPR {_rate(micro['false_positive_rate'])}"
            )
        out.append(f"| {entry['file']} | {entry['task']} | {counts} | " + " | ".join(cells) + " |")
    return out


def render(doc: Doc) -> str:
    """The whole page for one accuracy result."""
    names = list(doc["systems"])
    dirty = " (with uncommitted changes)" if doc.get("dirty") else ""
    pii = [f for f in doc["files"] if f["task"] == "pii"]
    # the injection classifier is trained on the injection dev files: scored here it
    # would be accuracy on training data, so only grouped cross-validation reports it
    documents = [f for f in doc["files"] if f["task"] not in ("pii", "injection")]
    out = [
        "# Detection accuracy",
        "",
        "<!-- generated by `python -m bench.detect.accuracy` from "
        "bench/results/accuracy-*.json; edit bench/detect/accuracy_doc.py, not this file -->",
        "",
        f"Measured {doc['date']} at commit `{doc['commit']}`{dirty} ({doc['mode']} run, "
        f"{len(doc['files'])} files, took {doc['elapsed_s']:.0f} s) with "
        f"`{doc['command']}`. Cells are precision / recall / F1; `-` where a rate is "
        "undefined (nothing predicted, or nothing to find).",
        "",
        "## Systems",
        "",
        *_systems_table(doc),
        "",
        "## Personal data (span level)",
        "",
    ]
    for entry in pii:
        out += [*_pii_section(entry, names), ""]
    out += [
        "## Secrets, code and legal text (document level)",
        "",
        "Cells are precision / recall / F1 · false-positive rate on the negatives. The",
        "injection files are not scored here: the injection classifier was trained on",
        "them, so their accuracy comes from grouped cross-validation (next section).",
        "",
        *_documents_table(documents, names),
        "",
        *injection_doc.section(),
        _METHOD,
    ]
    return "\n".join(out)


def regenerate(path: Path = DOC) -> None:
    """Rewrite docs/accuracy.md from the latest saved accuracy result."""
    doc = latest()
    if doc is None:
        raise SystemExit(
            "no bench/results/accuracy-*.json yet; run python -m bench.detect.accuracy"
        )
    path.write_text(render(doc))
