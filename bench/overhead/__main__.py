"""``python -m bench.overhead [--quick]``: run the overhead benchmark end to end.

Starts the simulator and every target on loopback, measures them in alternating
rounds, writes bench/results/overhead-<UTC date>-<commit>.json, regenerates the tables
in bench/README.md and stops every process it started (also on Ctrl-C and errors).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from bench.overhead import readme, results
from bench.overhead.runner import FULL, QUICK, run_rounds
from bench.overhead.targets import REPO, running_fleet


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (~2-3 min): 2 short rounds; results marked 'quick'",
    )
    parser.add_argument("--rounds", type=int, default=None, help="override the round count")
    parser.add_argument(
        "--no-litellm", action="store_true", help="skip LiteLLM (reported as unavailable)"
    )
    parser.add_argument(
        "--no-save",
        action="store_true",
        help="print the summary only; write no result file, leave the README",
    )
    parser.add_argument(
        "--readme-only",
        action="store_true",
        help="only regenerate bench/README.md from bench/results/*.json",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the temp dir with configs and server logs"
    )
    return parser.parse_args(argv)


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _print_summary(document: dict[str, object], saved: Path | None) -> None:
    targets = document["targets"]
    comparisons = document["comparisons"]
    assert isinstance(targets, dict) and isinstance(comparisons, dict)
    print("\nmedians across rounds:")
    for name, target in targets.items():
        if not target["available"]:
            print(f"  {name:<11} unavailable: {target['unavailable_reason']}")
            continue
        m, c = target["median"], comparisons.get(name, {})
        ratio = c.get("throughput_ratio_vs_floor")
        added = c.get("added_p50_ms")
        print(
            f"  {name:<11} {m.get('rps') or 0:7.0f} req/s (x floor {ratio or 0:.2f})  "
            f"cpu {m.get('cpu_ms_per_req') or 0:.3f} ms/req  p50 {m.get('p50_ms') or 0:.2f} ms "
            f"(added {added or 0:+.2f})  ttfb {m.get('ttfb_p50_ms') or 0:.2f} ms"
        )
    print("goals (Bastion, 1 worker):")
    for goal in document["goals"]:  # type: ignore[attr-defined]
        print(
            f"  {goal['name']}: {goal['measured']} {goal['unit']} "
            f"{goal['comparison']} {goal['limit']} -> {goal['passed']}"
        )
    if saved is not None:
        print(f"saved {saved.relative_to(REPO)}; bench/README.md regenerated")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit code."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.readme_only:
        readme.regenerate(results.load_all())
        return 0
    settings = QUICK if args.quick else FULL
    if args.rounds:
        settings = dataclasses.replace(settings, rounds=max(1, args.rounds))
    command = "python -m bench.overhead " + shlex.join(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    workdir = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    try:
        print(f"starting servers (logs in {workdir}) ...", flush=True)
        with running_fleet(workdir, with_litellm=not args.no_litellm) as fleet:
            assert fleet.simulator is not None
            rows = run_rounds(fleet.targets, fleet.simulator, settings, workdir)
            document = results.build(
                command=command.strip(),
                mode="quick" if args.quick else "full",
                settings=settings,
                targets=fleet.targets,
                rows=rows,
                started=started,
                elapsed_s=time.monotonic() - clock,
            )
    except KeyboardInterrupt:
        print(f"interrupted; servers stopped (logs kept in {workdir})", file=sys.stderr)
        return 130
    except BaseException:
        print(f"failed; servers stopped (logs kept in {workdir})", file=sys.stderr)
        raise
    if not args.keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    saved = None
    if not args.no_save:
        saved = results.write(document)
        readme.regenerate(results.load_all())
    _print_summary(document, saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
