"""``python -m bench.injection.falsepos``: reports on benign pastes, and on pastes that
carry an instruction, read as ``user`` and as ``retrieved``.

The sets: the hand-written pastes of ``tests/detect/test_detect_injection_pastes.py``
and the texts full of ``?`` and ``!`` of ``tests/detect/test_detect_injection_mojibake.py``;
a run of each counted mark (10 KB alone, and 300 after a question); generated pastes
(``pastes``) of seeds that training does not use, the nine technical kinds and the
mojibake, FAQ and shouting kinds apart; generated question pages (``questions``: FAQ
pages, surveys, quizzes, forms, threads, tickets, templates) of seeds that training does
not use, and the hand-written pages of ``question_check`` (never trained or tuned on);
generated pastes with an instruction inside; generated question pages with an
instruction composed by ``questions.instruction`` (training inserts only the hand-written
sentences of ``extra``), and the hand-written pages each with its instruction. To
compare with an older detector, run the same command with that tree's ``src`` first on
``PYTHONPATH``: the texts come from this tree either way.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from bastion.detect.injection import InjectionDetector
from bench.injection import extra, pastes, question_check, questions

TESTS = Path(__file__).resolve().parents[2] / "tests" / "detect"
MARKS = "?!:|<>[]{}#*/=@$\n"
TECHNICAL = 9
"""``pastes.KINDS[:TECHNICAL]``: HTML to code."""
MARKED = pastes.MARKED
"""Generated texts full of ``?`` or ``!``: mojibake, FAQ pages and forms, shouting."""


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generated(
    kinds: Sequence[Callable[[random.Random, int], str]], count: int, seed: int
) -> list[str]:
    rng = random.Random(seed)
    return [kinds[i % len(kinds)](rng, pastes._size(rng)) for i in range(count)]


def benign_sets() -> dict[str, list[str]]:
    """The benign sets by name."""
    return {
        "hand-written pastes": list(_module("test_detect_injection_pastes").BENIGN_PASTES.values()),
        "?/! texts (tests)": list(_module("test_detect_injection_mojibake").BENIGN.values()),
        "runs of one mark": [mark * 10_000 for mark in MARKS]
        + [f"What does this line mean? {mark * 300}" for mark in MARKS],
        "generated technical, seed 101": _generated(pastes.KINDS[:TECHNICAL], 300, 101),
        "generated mojibake/FAQ/!, seed 102": _generated(MARKED, 90, 102),
        "generated question pages, seed 104": questions.benign(180, seed=104),
        "hand-written question pages (question_check)": list(question_check.PAGES.values()),
    }


def attack_sets() -> dict[str, tuple[str, list[str]]]:
    """Texts carrying an instruction: ``{name: (source, texts)}``."""
    direct = [text for text, _, _ in pastes.attacks(extra.DIRECT_ATTACKS, 120, seed=103)]
    indirect = [a for _, a in extra.INDIRECT_ATTACKS]
    return {
        "generated pastes, seed 103, as user": ("user", direct),
        "generated pastes, seed 103, as retrieved": (
            "retrieved", [text for text, _, _ in pastes.attacks(indirect, 120, seed=103)]
        ),
        "generated question pages, seed 105, as retrieved": (
            "retrieved", [text for text, _, _ in questions.attacks(120, seed=105)]
        ),
        "hand-written question pages (question_check), as retrieved": (
            "retrieved", list(question_check.carrying().values())
        ),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.injection.falsepos")
    parser.parse_args(argv)
    detector = InjectionDetector()
    for name, texts in benign_sets().items():
        counts = {
            src: sum(1 for t in texts if detector.detect(t, src)) for src in ("user", "retrieved")
        }
        print(f"benign  {name}: {len(texts)} texts, flagged user {counts['user']}, "
              f"retrieved {counts['retrieved']}")  # fmt: skip
    for name, (src, texts) in attack_sets().items():
        found = sum(1 for t in texts if detector.detect(t, src))
        print(f"attacks {name}: {found} / {len(texts)} reported")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
