"""``python -m bench.detect.accuracy``: Bastion's and Presidio's accuracy on the same data.

For every ``*.dev.jsonl`` in the data folder (default ../shared/data beside the
repository) it scores, with ``bastion.detect.evaluation`` (same mapping, same
matching for everyone):

* Bastion, fast tier, and Bastion with the NER tier (``build_scanner``);
* Presidio with spaCy's small English model, and Presidio with patterns only, on PII
  files: its entities PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE,
  US_SSN, IP_ADDRESS, US_DRIVER_LICENSE and LOCATION map to Bastion's classes. Presidio
  has no detector for secrets, code, legal text or injections: those cells are n/a.

Writes bench/results/accuracy-<UTC date>-<commit>.json and regenerates docs/accuracy.md
from the latest saved result (``--docs-only`` does just that).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.detect.catalog import Tier
from bastion.detect.evaluation import (
    Example,
    Prediction,
    default_source,
    evaluate,
    infer_task,
    load_examples,
)
from bench.detect import accuracy_doc, presidio_env
from bench.detect.presidio_client import PresidioRunner, running_presidio
from bench.detect.results import software
from bench.overhead.results import git_commit, machine, write_result
from bench.overhead.targets import REPO

DATA_DIR = REPO.parent / "shared" / "data"
PRESIDIO_CLASSES = {
    "PERSON": "pii.person",
    "EMAIL_ADDRESS": "pii.email",
    "PHONE_NUMBER": "pii.phone",
    "CREDIT_CARD": "pii.credit_card",
    "IBAN_CODE": "pii.iban",
    "US_SSN": "pii.us_ssn",
    "IP_ADDRESS": "pii.ip_address",
    "US_DRIVER_LICENSE": "pii.us_driver_license",
    "LOCATION": "pii.location",
}
SYSTEMS = {
    "bastion-fast": "Bastion, fast tier (patterns, validators, normalisation, code, legal)",
    "bastion-tagger": "Bastion, fast tier + tagger for names, places, addresses (second tier)",
    "bastion-ner": "Bastion, fast tier + tagger + spaCy en_core_web_sm NER",
    "presidio-spacy": "Presidio, spaCy en_core_web_sm + patterns",
    "presidio-patterns": "Presidio, patterns only (no_op NLP engine)",
}
PRESIDIO = ("presidio-spacy", "presidio-patterns")
_BATCH = 200
ScanFn = Callable[[str], Sequence[Prediction]]
ScanFactory = Callable[[str, Sequence[Example], str], ScanFn | None]
"""(source, examples, task) -> the scan function for that file, or None: n/a for the task."""


@dataclass(frozen=True, slots=True)
class Span:
    """One Presidio result in Bastion's terms."""

    data_class: str
    start: int
    end: int


def _bastion(tier: Tier) -> ScanFactory:
    """Scan functions of one Bastion tier; raises when the tier cannot be built."""
    from bastion.detect.catalog import build_scanner

    scanner = build_scanner(tier=tier)

    def factory(source: str, examples: Sequence[Example], task: str) -> ScanFn:
        return lambda text: scanner.scan(text, source=source).findings

    return factory


def _presidio(runner: PresidioRunner, config: str) -> ScanFactory:
    """Presidio's answers for a PII file (analyzed up front, looked up per text)."""

    def factory(source: str, examples: Sequence[Example], task: str) -> ScanFn | None:
        if task != "pii":
            return None
        texts = list(dict.fromkeys(e.text for e in examples))
        table: dict[str, list[Span]] = {}
        for at in range(0, len(texts), _BATCH):
            batch = texts[at : at + _BATCH]
            answers = runner.analyze(config, batch, list(PRESIDIO_CLASSES))
            for text, rows in zip(batch, answers, strict=True):
                table[text] = [
                    Span(PRESIDIO_CLASSES[t], s, e) for s, e, t, _ in rows if t in PRESIDIO_CLASSES
                ]
        return lambda text: table[text]

    return factory


def _files(data_dir: Path) -> Iterator[Path]:
    yield from sorted(data_dir.glob("*.dev.jsonl"))


def _score_file(
    path: Path, limit: int | None, factories: Mapping[str, ScanFactory], reasons: Mapping[str, str]
) -> dict[str, Any]:
    """One file scored by every system (``na`` with the reason where one cannot run)."""
    examples = load_examples(path, limit=limit)
    task, source = infer_task(examples), default_source(path)
    scores: dict[str, Any] = {}
    for name in SYSTEMS:
        started = time.perf_counter()
        factory = factories.get(name)
        scan = factory(source, examples, task) if factory is not None else None
        if scan is None:
            scores[name] = {"na": reasons.get(name, "Presidio has no detector for this task")}
            continue
        try:
            scores[name] = evaluate(examples, scan, task).to_json()
        except Exception as exc:  # recorded in the results and the docs, not fatal
            scores[name] = {"na": f"failed: {type(exc).__name__}: {exc}"}
            print(f"  {path.name:<30} {name:<18} {scores[name]['na']}", flush=True)
            continue
        scores[name]["elapsed_s"] = round(time.perf_counter() - started, 2)
        micro = scores[name]["micro"]
        print(
            f"  {path.name:<30} {name:<18} P {micro['precision']} R {micro['recall']} "
            f"F1 {micro['f1']} ({scores[name]['elapsed_s']} s)",
            flush=True,
        )
    return {
        "file": path.name,
        "task": task,
        "source": source,
        "examples": len(examples),
        "systems": scores,
    }


def run(
    data_dir: Path, *, limit: int | None, with_presidio: bool, with_second: bool
) -> dict[str, Any]:
    """Score every system on every file; return the per-file results and system notes."""
    factories: dict[str, ScanFactory] = {}
    reasons: dict[str, str] = {}
    info: dict[str, dict[str, Any]] = {}
    tiers: tuple[tuple[str, Tier], ...] = (
        ("bastion-fast", "fast"),
        ("bastion-tagger", "tagger"),
        ("bastion-ner", "ner"),
    )
    for name, tier in tiers:
        if tier == "ner" and not with_second:
            reasons[name] = "skipped (--no-ner)"
            continue
        try:
            factories[name] = _bastion(tier)
        except Exception as exc:  # reported as unavailable, with the reason
            reasons[name] = f"{type(exc).__name__}: {exc}"
    with ExitStack() as stack:
        runner: PresidioRunner | None = None
        if with_presidio:
            log = Path(tempfile.mkdtemp(prefix="bastion-accuracy-")) / "presidio.log"
            try:
                runner = stack.enter_context(running_presidio(log))
            except RuntimeError as exc:
                reasons |= dict.fromkeys(PRESIDIO, str(exc))
        else:
            reasons |= dict.fromkeys(PRESIDIO, "skipped (--no-presidio)")
        if runner is not None:
            for name in PRESIDIO:
                factories[name] = _presidio(runner, name.removeprefix("presidio-"))
                info[name] = {
                    "versions": runner.info.get("versions"),
                    "model": runner.info.get("model"),
                    "score_threshold": 0.0,
                    "pins": presidio_env.PINS,
                }
        files = [_score_file(path, limit, factories, reasons) for path in _files(data_dir)]
    systems = {
        name: {
            "label": label,
            "available": name in factories,
            "reason": reasons.get(name),
            "info": info.get(name, {}),
        }
        for name, label in SYSTEMS.items()
    }
    return {"systems": systems, "files": files}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.detect.accuracy", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of *.dev.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="first N examples per file")
    parser.add_argument("--no-presidio", action="store_true", help="skip Presidio")
    parser.add_argument("--no-ner", action="store_true", help="skip Bastion's NER tier")
    parser.add_argument("--no-save", action="store_true", help="print only")
    parser.add_argument("--docs-only", action="store_true", help="only regenerate docs/accuracy.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return the process exit code."""
    arguments = sys.argv[1:] if argv is None else argv
    args = _parse(arguments)
    if args.docs_only:
        accuracy_doc.regenerate()
        return 0
    if not any(_files(args.data_dir)):
        print(f"no *.dev.jsonl files in {args.data_dir}", file=sys.stderr)
        return 1
    started, clock = dt.datetime.now(dt.UTC), time.monotonic()
    outcome = run(
        args.data_dir,
        limit=args.limit,
        with_presidio=not args.no_presidio,
        with_second=not args.no_ner,
    )
    commit, dirty = git_commit()
    document = {
        "benchmark": "accuracy",
        "command": ("python -m bench.detect.accuracy " + shlex.join(arguments)).strip(),
        "mode": "full" if args.limit is None else f"limit-{args.limit}",
        "commit": commit,
        "dirty": dirty,
        "date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "elapsed_s": round(time.monotonic() - clock, 1),
        "machine": machine(),
        "software": software(),
        "data_dir": str(args.data_dir),
        **outcome,
    }
    if args.no_save:
        return 0
    path = write_result("accuracy", document)
    accuracy_doc.regenerate()
    print(f"saved {path.relative_to(REPO)}; docs/accuracy.md regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
