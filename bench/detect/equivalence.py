"""Result equivalence of the fast tier: dump every finding of many texts, or compare dumps.

Speed work on the detection engine must not change a single result. This script scans a
fixed, wide set of texts with ``build_scanner(tier="fast")`` (every candidate, with
``all_scores``) and writes each text's findings (class, span, score, detector, meta) and
document scores as JSON lines; ``--check`` compares two such files.

Texts: the benchmark corpus at every size, the adversarial runs, every text of
``../shared/data/*.dev.jsonl``, the evasion corpus (cases and controls), and seeded
random texts dense with digits, separators, ``@`` and non-ASCII characters (where
pattern candidates, validators and normalisation meet).

Run it with the old and the new code on the same checkout of everything else::

    PYTHONPATH=/tmp/old/src:. .venv/bin/python -m bench.detect.equivalence --out old.jsonl
    .venv/bin/python -m bench.detect.equivalence --out new.jsonl
    .venv/bin/python -m bench.detect.equivalence --check old.jsonl new.jsonl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.detect.corpus import ADVERSARIAL_KINDS, SIZES, adversarial_text, mixed_text

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
_PIECES = (
    "0", "1", "2", "4", "5", "7", "9", "12", "555", "0173", "4111", "2024", "20", "7946",
    " ", "  ", "-", ".", "/", "(", ")", "+", "+44", "+1", "(0)", ":", "@", "#", "x", "ext.",
    "\t", "\n", "\r\n", "\u00a0", "\u2009", "\u202f", "a", "e", "t", "Z", "k", "mail",
    "example.com", "é", "İ", "\u212a", "\u017f", "٣", "\u200b", "card", "phone", "SSN",
    "tel", "IBAN", "GB82", "WEST", "_", "%", "=", "'", '"', ",", ";", "\u0660", "ß",
)  # fmt: skip


def fuzz_texts(count: int = 3000, seed: int = 20261202) -> Iterator[str]:
    """Short texts glued from number-ish pieces: boundaries where candidates meet."""
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(_PIECES) for _ in range(rng.randrange(1, 60)))
    for _ in range(count // 10):  # longer: several numbers apart in prose
        words = []
        for _ in range(rng.randrange(20, 400)):
            if rng.random() < 0.1:
                words.append("".join(rng.choice(_PIECES) for _ in range(rng.randrange(1, 12))))
            else:
                words.append(rng.choice(("the", "plan", "and", "call", "at", "on", "of")))
        yield " ".join(words)


def _evasion_texts() -> Iterator[str]:
    path = ROOT / "tests" / "detect" / "evasion_corpus.py"
    spec = importlib.util.spec_from_file_location("_evasion_corpus", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for case in module.cases():
        yield case.text
    for control in module.controls():
        yield control.text


def texts() -> Iterator[tuple[str, str]]:
    """(label, text) of every text the check scans, in a fixed order."""
    for size in SIZES:
        for variant in range(3):
            yield f"mixed/{size}/{variant}", mixed_text(size, variant)
    for kind in ADVERSARIAL_KINDS:
        yield f"adversarial/{kind}", adversarial_text(kind, 10_240)
    for file in sorted(DATA.glob("*.dev.jsonl")):
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                yield f"{file.name}/{number}", json.loads(line)["text"]
    for number, text in enumerate(_evasion_texts()):
        yield f"evasion/{number}", text
    for number, text in enumerate(fuzz_texts()):
        yield f"fuzz/{number}", text


def dump(out: Path) -> int:
    from bastion.detect.catalog import build_scanner

    scanner = build_scanner(tier="fast")
    count = 0
    with out.open("w", encoding="utf-8") as sink:
        for label, text in texts():
            result = scanner.scan(text, all_scores=True)
            findings = [
                [h.data_class, h.start, h.end, h.score, h.detector, dict(h.meta)]
                for h in result.findings
            ]
            row = {"text": label, "findings": findings, "doc_scores": result.doc_scores}
            sink.write(json.dumps(row, sort_keys=True) + "\n")
            count += 1
    return count


def check(old: Path, new: Path) -> int:
    """The number of texts whose results differ (each is printed, without its text)."""
    differ = 0
    with old.open(encoding="utf-8") as a, new.open(encoding="utf-8") as b:
        for left, right in zip(a, b, strict=True):
            if left != right:
                differ += 1
                if differ <= 20:
                    print("differs:", json.loads(left)["text"])
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the findings of every text here")
    parser.add_argument("--check", type=Path, nargs=2, metavar=("OLD", "NEW"))
    args = parser.parse_args()
    if args.check:
        differ = check(*args.check)
        print(f"{differ} texts differ")
        return 1 if differ else 0
    if args.out is None:
        parser.error("--out or --check is required")
    print(f"{dump(args.out)} texts scanned")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
