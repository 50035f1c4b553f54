"""Regenerate the detection tables in bench/README.md from every saved detect result.

Only the text between ``<!-- detect:runs:begin -->`` and ``<!-- detect:runs:end -->``
is replaced (appended with its heading when missing); the overhead sections and the
hand-written method above the markers stay as they are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.detect.corpus import ADVERSARIAL_SIZES, MACHINE_KINDS, MACHINE_SIZES, SIZES
from bench.overhead.targets import REPO

README = REPO / "bench" / "README.md"
BEGIN, END = "<!-- detect:runs:begin -->", "<!-- detect:runs:end -->"
Doc = Mapping[str, Any]
SHORT = {
    "bastion-fast": "Bastion fast",
    "bastion-fast-injection": "Bastion fast + injection",
    "bastion-tagger": "Bastion fast + tagger",
    "bastion-ner": "Bastion fast + tagger + NER",
    "presidio-spacy": "Presidio spaCy sm",
    "presidio-patterns": "Presidio patterns only",
}


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size // 1024} KB"


def _num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _mb_per_s(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value < 1 else f"{value:,.1f}"


def _label(name: str, target: Doc) -> str:
    return SHORT.get(name, str(target["label"]))


def _fast(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.1f}x" if value < 100 else f"{value:,.0f}x"


def _verdict(passed: bool | None) -> str:
    return {True: "**pass**", False: "**FAIL**", None: "not measured"}[passed]


def _live(doc: Doc) -> list[tuple[str, Doc]]:
    return [(name, t) for name, t in doc["targets"].items() if t["available"]]


def _size_table(doc: Doc, cell: Any) -> list[str]:
    lines = [
        "| target | " + " | ".join(_size(s) for s in SIZES) + " |",
        "|---|" + "---:|" * len(SIZES),
    ]
    for name, target in _live(doc):
        cells = [cell(target["median"].get(str(size), {})) for size in SIZES]
        lines.append(f"| {_label(name, target)} | " + " | ".join(cells) + " |")
    return lines


def _ratio_table(doc: Doc) -> list[str]:
    lines = [
        "| Presidio p50 ÷ Bastion p50 | " + " | ".join(_size(s) for s in SIZES) + " |",
        "|---|" + "---:|" * len(SIZES),
    ]
    for pair, by_size in doc.get("ratios", {}).items():
        presidio, bastion = pair.split("/")
        name = f"{SHORT.get(presidio, presidio)} ÷ {SHORT.get(bastion, bastion)}"
        cells = [_fast(by_size.get(str(size))) for size in SIZES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _linearity_table(doc: Doc) -> list[str]:
    small, large = (str(s) for s in ADVERSARIAL_SIZES)
    lines = [
        f"| input | target | µs at {_size(int(small))} | µs at {_size(int(large))} "
        f"| µs/KB at {_size(int(small))} | µs/KB at {_size(int(large))} | growth of µs/KB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    labels = {name: _label(name, t) for name, t in doc["targets"].items()}
    rows = doc.get("adversarial", {}).get("linearity", {})
    kinds = sorted({kind for per_target in rows.values() for kind in per_target})
    for kind in kinds:
        for target, per_kind in rows.items():
            row = per_kind.get(kind)
            if row is None:
                continue
            lines.append(
                f"| {kind} | {labels.get(target, target)} | {_num(row[f'us_{small}'])} "
                f"| {_num(row[f'us_{large}'])} | {_num(row[f'us_per_kb_{small}'], 1)} "
                f"| {_num(row[f'us_per_kb_{large}'], 1)} | {_num(row['growth_per_kb'], 2)} |"
            )
    return lines


def _machine_table(doc: Doc) -> list[str]:
    sizes = doc.get("corpus", {}).get("machine_sizes", MACHINE_SIZES)
    head = " | ".join(f"{_size(int(z))} p50 µs | {_size(int(z))} MB/s" for z in sizes)
    lines = [f"| text | target | {head} |", "|---|---|" + "---:|---:|" * len(sizes)]
    labels = {name: _label(name, t) for name, t in doc["targets"].items()}
    rows = doc.get("machine_text", {})
    for kind in doc.get("corpus", {}).get("machine_kinds", MACHINE_KINDS):
        for target, per_kind in rows.items():
            by_size = per_kind.get(kind, {})
            cells = [
                f"{_num(by_size.get(str(z), {}).get('p50_us'))} "
                f"| {_mb_per_s(by_size.get(str(z), {}).get('mb_per_s'))}"
                for z in sizes
            ]
            lines.append(f"| {kind} | {labels.get(target, target)} | " + " | ".join(cells) + " |")
    return lines


def render_run(doc: Doc) -> str:
    """One run: header, latency, throughput, ratios, linearity, goals, unavailable targets."""
    m, s = doc["machine"], doc["settings"]
    dirty = " (with uncommitted changes)" if doc.get("dirty") else ""
    budgets = ", ".join(f"{_size(z)} {b:g} s" for z, b in zip(SIZES, s["budget_s"], strict=True))
    out = [
        f"#### {doc['date']} · commit `{doc['commit']}`{dirty} · {doc['mode']}",
        "",
        f"Command: `{doc['command']}` · machine: {m['cpu_model']}, {m['cores']} cores, "
        f"Python {m['python']} · {s['rounds']} rounds, per visit and size: {budgets} "
        f"(at least {s['min_calls']} call), {s['variants']} texts per size; took "
        f"{doc['elapsed_s']:.0f} s.",
        "",
        "Latency per text, p50 / p90 in µs (median across rounds):",
        "",
        *_size_table(doc, lambda r: f"{_num(r.get('p50_us'))} / {_num(r.get('p90_us'))}"),
        "",
        "Throughput, MB/s on one core (text bytes ÷ p50):",
        "",
        *_size_table(doc, lambda r: _mb_per_s(r.get("mb_per_s"))),
        "",
        "How many times faster Bastion is (Presidio p50 ÷ Bastion p50, paired per round):",
        "",
        *_ratio_table(doc),
        "",
        "Adversarial input, one unbroken run (linear means the µs/KB growth stays near 1):",
        "",
        *_linearity_table(doc),
        "",
        *(
            [
                "Machine text, a new text on every call (logs of random ids, base64 wrapped at"
                " 76 columns, hex digests one per line):",
                "",
                *_machine_table(doc),
                "",
            ]
            if doc.get("machine_text")
            else []
        ),
        "| goal | measured | limit | result |",
        "|---|---:|---:|---|",
    ]
    for goal in doc.get("goals", []):
        digits = 0 if goal["unit"] == "us" else 2
        out.append(
            f"| {goal['name']} | {_num(goal['measured'], digits)} {goal['unit']} "
            f"| {goal['comparison']} {goal['limit']:g} {goal['unit']} "
            f"| {_verdict(goal['passed'])} |"
        )
    missing = [t for t in doc["targets"].values() if not t["available"]]
    if missing:
        out.append("")
        out += [f"Not measured: {t['label']}: {t['unavailable_reason']}." for t in missing]
    return "\n".join(out)


def regenerate(documents: Sequence[Doc], readme: Path = README) -> None:
    """Rewrite the detection block of ``readme`` from ``documents`` (latest first)."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    body = "\n\n".join(render_run(doc) for doc in documents) or "No runs yet."
    block = f"{BEGIN}\n{body}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n### Detection results\n\n" + block + "\n"
    readme.write_text(text)
