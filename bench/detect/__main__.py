"""``python -m bench.detect [--quick] [--no-presidio]``: detection speed beside Presidio.

Builds Bastion's scanner (fast tier, and with the NER tier) in this process and starts
Presidio's runner in bench/.venv-presidio (installed on first use), times every target
on 200 B, 2 KB, 20 KB and 200 KB of generated mixed text in alternating rounds, then on
adversarial runs (digits, ``@``, base64) at 10 KB and 100 KB, then on machine text (logs,
wrapped base64, hex lines; a new text per call) at 2 KB and 20 KB. Writes
bench/results/detect-<UTC date>-<commit>.json and the Detection tables in bench/README.md.
Accuracy is a separate command: ``python -m bench.detect.accuracy``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from bench.detect import readme, results
from bench.detect.targets import prepared_targets
from bench.detect.timing import (
    FULL,
    QUICK,
    run_adversarial,
    run_machine,
    run_rounds,
    texts_by_size,
    warm_up,
)
from bench.overhead.targets import REPO


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.detect", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run (< 2 min): 2 short rounds")
    parser.add_argument("--rounds", type=int, default=None, help="override the round count")
    parser.add_argument(
        "--no-presidio", action="store_true", help="skip Presidio (reported as unavailable)"
    )
    parser.add_argument(
        "--no-save", action="store_true", help="print only; write no result file, leave the README"
    )
    parser.add_argument(
        "--readme-only",
        action="store_true",
        help="only regenerate bench/README.md from bench/results/detect-*.json",
    )
    return parser.parse_args(argv)


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _print_summary(document: dict[str, Any], saved: Path | None) -> None:
    print("\nmedian p50 µs per text (MB/s):")
    for target in document["targets"].values():
        if not target["available"]:
            print(f"  {target['label']}: unavailable: {target['unavailable_reason']}")
            continue
        cells = "  ".join(
            f"{size}: {row['p50_us']:,.0f} ({row['mb_per_s']:.2f})"
            for size, row in target["median"].items()
        )
        print(f"  {target['label']}: {cells}")
    print("goals (fast tier):")
    for goal in document["goals"]:
        print(
            f"  {goal['name']}: {goal['measured']} {goal['unit']} "
            f"{goal['comparison']} {goal['limit']} -> {goal['passed']}"
        )
    if saved is not None:
        print(f"saved {saved.relative_to(REPO)}; bench/README.md regenerated")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit code."""
    arguments = sys.argv[1:] if argv is None else argv
    args = _parse(arguments)
    if args.readme_only:
        readme.regenerate(results.load_all())
        return 0
    settings = QUICK if args.quick else FULL
    if args.rounds:
        settings = dataclasses.replace(settings, rounds=max(1, args.rounds))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    log = Path(tempfile.mkdtemp(prefix="bastion-bench-detect-")) / "presidio.log"
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    texts = texts_by_size(settings.variants)
    try:
        with prepared_targets(with_presidio=not args.no_presidio, log=log) as targets:
            for target in targets:
                if target.unavailable:
                    print(f"  {target.name}: unavailable: {target.unavailable}", flush=True)
            warm_up(targets, texts, settings)
            rows = run_rounds(targets, settings)
            adversarial = run_adversarial(targets, settings)
            machine = run_machine(targets, settings)
    except KeyboardInterrupt:
        print("interrupted; Presidio runner stopped", file=sys.stderr)
        return 130
    document = results.build(
        command=("python -m bench.detect " + shlex.join(arguments)).strip(),
        mode="quick" if args.quick else "full",
        settings=settings,
        targets=targets,
        rows=rows,
        adversarial=adversarial,
        machine_text=machine,
        started=started,
        elapsed_s=time.monotonic() - clock,
    )
    saved = None
    if not args.no_save:
        saved = results.write(document)
        readme.regenerate(results.load_all())
    _print_summary(document, saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
