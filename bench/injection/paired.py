"""``python -m bench.injection.paired OLD_TREE``: old and new detector code in one process.

For a change to the injection detector or the entity tagger: OLD_TREE is a checkout of
the code before it (``git worktree add /tmp/base <commit>``); its ``src/bastion`` is
copied to a temporary package ``bastion_old`` (imports rewritten), so both versions run
side by side and a drift of the shared machine hits both alike.

Each round makes fresh texts per kind (every call a text neither side has seen: a
numbered prompt as in ``bench.overhead``, generated prose, adversarial runs) and times a
block of calls of each side in turn, the order alternating per round, so caches warm to
the code being timed; the fast tier's pattern engine and document detectors run on the
text before each timed call, as in the gateway. ``InjectionDetector.detect`` is given the
projections (as ``Scanner.scan`` calls it). Prints p50 per side over all timed calls,
their ratio and the median of the per-round ratios of p50s, and counts results that
differ (there should be none for a speed-only change).
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.detect.corpus import adversarial_text, mixed_text
from bench.injection.__main__ import _inject
from bench.overhead.workload import prompt_text

Target = tuple[Callable[[str], tuple[Any, Any]], Callable[[Any], object], Callable[[Any], object]]
"""``(prepare, old, new)``: ``prepare`` turns a text into each side's input (not timed)."""


def _texts() -> dict[str, Callable[[int], str]]:
    """Kinds of text: call ``n`` of a kind gets its own text where it can."""
    prose_2k, prose_20k = prompt_text(2_048), prompt_text(20_480)

    def numbered(base: str) -> Callable[[int], str]:
        return lambda n: base.replace("00000000", f"{n % 100_000_000:08d}", 1)

    return {
        "prose-2k": numbered(prose_2k),
        "short-30": lambda n: f"{n % 100_000_000:08d} Summarise the notes, pls",
        "prose-20k": numbered(prose_20k),
        "mixed-2k": lambda n: mixed_text(2_048, n % 50),
        "injected-2k": lambda n: _inject(mixed_text(2_048, n % 50), n),
        "digits-10k": lambda n: adversarial_text("digits", 10_240),
        "at-signs-10k": lambda n: adversarial_text("at-signs", 10_240),
        "base64-10k": lambda n: adversarial_text("base64", 10_240),
    }


def load_old(tree: Path, into: Path) -> str:
    """Copy ``tree/src/bastion`` to ``into/bastion_old`` with its imports rewritten."""
    target = into / "bastion_old"
    shutil.copytree(tree / "src" / "bastion", target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*.py"):
        source = path.read_text("utf-8")
        source = re.sub(r"\bbastion(?=\.[a-z_])", "bastion_old", source)
        source = re.sub(
            r"^(\s*)(from|import) bastion\b(?!\.)", r"\1\2 bastion_old", source, flags=re.M
        )
        path.write_text(source, "utf-8")
    sys.path.insert(0, str(into))
    return "bastion_old"


def _targets(old: str, which: str) -> dict[str, Target]:
    """The timed calls of each side: injection given the projections (as ``Scanner.scan``
    calls it), the entity tagger given the text."""
    targets: dict[str, Target] = {}
    if which in ("both", "injection"):
        detectors, projects = [], []
        for package in (old, "bastion"):
            detectors.append(
                importlib.import_module(f"{package}.detect.injection").InjectionDetector()
            )
            projects.append(importlib.import_module(f"{package}.detect.normalize").project)
        old_detector, new_detector = detectors
        old_project, new_project = projects
        targets["injection"] = (
            lambda text: ((text, old_project(text)), (text, new_project(text))),
            lambda given: old_detector.detect(given[0], "user", normalised=given[1]),
            lambda given: new_detector.detect(given[0], "user", normalised=given[1]),
        )
    if which in ("both", "entities"):
        taggers = []
        for package in (old, "bastion"):
            tagger = importlib.import_module(f"{package}.detect.entities").EntityTagger()
            tagger.warm()
            taggers.append(tagger)
        old_tagger, new_tagger = taggers
        targets["entities"] = (lambda text: (text, text), old_tagger.detect, new_tagger.detect)
    return targets


def run(targets: dict[str, Target], rounds: int, calls: int) -> dict[str, Any]:
    """Per target and kind of text: every timed call (ns) of each side, per-round ratios."""
    from bastion.detect.catalog import build_scanner

    scanner = build_scanner(tier="fast")  # the gateway's other detection work, same both sides
    between = [scanner.engine.scan, *(document.detect for document in scanner._documents)]
    samples: dict[tuple[str, str], dict[str, list[float]]] = {}
    differ = number = 0
    kinds = _texts()
    for round_ in range(rounds + 1):  # round 0 warms up
        for kind, make in kinds.items():
            for name, (prepare, *sides) in targets.items():
                batch = []
                for _ in range(calls):
                    number += 1
                    text = make(number)
                    batch.append((text, prepare(text)))
                took: list[list[int]] = [[], []]
                found: list[list[str]] = [[], []]
                for index in (0, 1) if round_ % 2 == 0 else (1, 0):
                    detect = sides[index]
                    for text, given in batch:
                        for other in between:
                            other(text)
                        started = time.perf_counter_ns()
                        result = detect(given[index])
                        took[index].append(time.perf_counter_ns() - started)
                        found[index].append(repr(result))
                differ += sum(a != b for a, b in zip(*found, strict=True))
                if round_:
                    row = samples.setdefault((name, kind), {"old": [], "new": [], "ratio": []})
                    row["old"] += took[0]
                    row["new"] += took[1]
                    row["ratio"].append(statistics.median(took[1]) / statistics.median(took[0]))
    return {"samples": samples, "differ": differ}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.injection.paired", description=__doc__)
    parser.add_argument("old_tree", type=Path, help="checkout of the code before the change")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--calls", type=int, default=30, help="calls per side, kind and round")
    parser.add_argument("--only", choices=("both", "injection", "entities"), default="both")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as into:
        old = load_old(args.old_tree, Path(into))
        result = run(_targets(old, args.only), args.rounds, args.calls)
    print(f"results that differ: {result['differ']}")
    print(f"{'target':<10} {'text':<14} {'old p50 µs':>10} {'new p50 µs':>10} {'ratio':>6} "
          f"{'per-round':>9}")  # fmt: skip
    for (name, kind), row in result["samples"].items():
        old_p50 = statistics.median(row["old"]) / 1_000
        new_p50 = statistics.median(row["new"]) / 1_000
        print(f"{name:<10} {kind:<14} {old_p50:>10.1f} {new_p50:>10.1f} {new_p50 / old_p50:>6.3f} "
              f"{statistics.median(row['ratio']):>9.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
