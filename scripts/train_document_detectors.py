"""Fit the legal detector's weights and write ``src/bastion/detect/legal_weights.py``.

Usage (from the repository root; needs numpy, which only this script uses)::

    .venv/bin/python scripts/train_document_detectors.py [--data ../shared/data]

Logistic regression over the detector's own features (``bastion.detect.legal.features``:
which rows of ``legal_signals.SIGNALS`` occur in a chunk, plus the "shall" and "such/any"
densities). The prior is the hand-set weight of each row: the fit minimises log-loss plus
``(w - prior)^2 / (2 * SIGMA^2)`` and keeps every weight on its prior's side of zero, so
rows the data rarely shows keep their hand-set meaning. Positives are the ``legal`` rows
of ``legal.dev.jsonl``; negatives are every other labelled file's texts (instructions,
jailbreaks, e-mails, code, synthetic PII), plus a few hard negatives written here.

It first reports precision/recall on a held-out fifth (contracts split by contract, so
no contract is on both sides), then refits on everything and writes the module.
Deterministic: same data, same weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bastion.detect import legal  # noqa: E402
from bastion.detect.legal_signals import SIGNALS, signature  # noqa: E402
from bastion.detect.regions import chunk_bounds  # noqa: E402

SIGMA = 0.7  # how far the data may pull a weight from its prior (log-odds)
NEGATIVE_WEIGHT = 1.0  # prose is far commoner than contracts in real traffic
EXTRA_WEIGHT = 10.0  # each hand-written hard negative stands for many real prompts
PRIOR_BIAS, PRIOR_SHALL, PRIOR_FORMAL = -1.5, 1.5, 1.8
STEPS, RATE = 4000, 0.05
OUT = ROOT / "src" / "bastion" / "detect" / "legal_weights.py"
NEGATIVE_FILES = (
    "code.dev.jsonl",
    "injection-direct.dev.jsonl",
    "injection-indirect.dev.jsonl",
    "pii.dev.jsonl",
)
# Hard negatives the labelled files lack: prose about contracts and law, not contracts.
EXTRA_NEGATIVES = (
    "Can you tell me what an indemnification clause usually covers?",
    "My landlord says I shall pay for the repairs. Is that legal?",
    "The two parties reached an agreement late on Friday, officials said.",
    "The company said on Monday it had terminated its supply agreement with the chipmaker "
    "after a dispute over prices, according to a statement.",
    "A jury found the defendant liable for breach of contract and awarded the plaintiff "
    "damages, the court reported.",
    "We use cookies and similar technologies to remember your preferences and understand "
    "how you use our website. You can manage your cookie settings at any time.",
    "Please review the attached contract and tell me whether the termination clause is fair.",
    "What is the difference between a warranty and a guarantee?",
    "Summarize the key obligations of each party in plain English.",
    "The meeting agreed that the committee shall meet again in March to review the budget.",
    "Section 2: Getting started. 2.1 Install the app. 2.2 Create an account.",
    "Party planning checklist: book the venue, send invitations, order the cake.",
    "1. Open the Settings app.\n2. Tap Privacy.\n3. Turn off Location Services.",
    "Chapter 4. The Return\n\n4.1 Morning\nThe village was quiet when they arrived.",
    "Lawmakers said the new rules shall take effect next year, according to the ministry.",
    "Schedule a call with the supplier to discuss the delivery delays and the invoice.",
    "Employees may not use company laptops for personal projects, the memo reminded staff.",
    "You must be 18 or older to enter the contest. One entry per person.",
    "Installation\n\n1.1 Requirements\nPython 3.11 or newer.\n1.2 Install\nRun the installer.\n"
    "1.3 Configuration\nEdit the settings file.",
    "Agenda\n1. Welcome and introductions\n2. Review of last quarter\n3. Budget for next year\n"
    "4. Any other business",
    "Table of Contents\n1. Introduction\n2. Getting Started\n2.1 Creating a Project\n"
    "2.2 Adding Users\n3. Troubleshooting",
    "Step 1. Remove the cover. Step 2. Replace the battery. Step 3. Close the cover and "
    "switch the device on.",
    "2.3 Results\nThe model improved accuracy by 4% on the test set. Section 4 discusses "
    "the limitations.",
    "Ministers agreed that the border shall reopen on Monday, the spokesperson told reporters.",
    "Please report any bugs you find on the issue tracker, and include any logs.",
    "The parties' leaders met on Tuesday; both sides said any deal would need approval.",
)


def load(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def fold(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 5


def samples(data: Path) -> list[tuple[np.ndarray, int, int, float]]:
    """``(features, label, fold, weight)`` per chunk that passes the gate."""
    rows: list[tuple[str, int, str, float]] = []
    for row in load(data / "legal.dev.jsonl"):
        text = str(row["text"])
        meta = row.get("meta") or {}
        group = str(meta.get("contract", text)) if isinstance(meta, dict) else text
        label = int(row["label"] == "legal")
        rows.append((text, label, group, 1.0 if label else NEGATIVE_WEIGHT))
    for name in NEGATIVE_FILES:
        rows += [(str(r["text"]), 0, str(r["text"]), NEGATIVE_WEIGHT) for r in load(data / name)]
    rows += [(text, 0, text, EXTRA_WEIGHT) for text in EXTRA_NEGATIVES]
    out: list[tuple[np.ndarray, int, int, float]] = []
    for text, label, group, weight in rows:
        for start, end in chunk_bounds(text):
            found = legal.features(text[start:end])
            if found is None:
                continue
            x = np.zeros(len(SIGNALS) + 2)
            x[list(found.present)] = 1.0
            x[-2], x[-1] = found.shall, found.formal
            out.append((x, label, fold(group), weight))
    return out


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """MAP logistic regression (bias last) around the priors, signs kept (Adam)."""
    prior = np.array([w for _, w in SIGNALS] + [PRIOR_SHALL, PRIOR_FORMAL, PRIOR_BIAS])
    sign = np.sign(prior)
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = prior.copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, STEPS + 1):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ ((p - y) * weight) / weight.sum() + (w - prior) / (SIGMA**2 * weight.sum())
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= RATE * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        w[:-1] = np.where(sign[:-1] * w[:-1] < 0, 0.0, w[:-1])  # keep each row's sign
    return w


def report(w: np.ndarray, x: np.ndarray, y: np.ndarray, name: str) -> None:
    xb = np.hstack([x, np.ones((len(x), 1))])
    pred = (xb @ w) >= 0
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"{name}: P={precision:.3f} R={recall:.3f} F1={f1:.3f} (tp {tp}, fp {fp}, fn {fn})")


def write(w: np.ndarray) -> None:
    lines = []
    for value, (regex, prior) in zip(w[: len(SIGNALS)], SIGNALS, strict=True):
        line = f"    {value:.4f},  # prior {prior}: {regex}".rstrip()
        lines.append(line if len(line) <= 99 else line[:96] + "...")
    weights = "\n".join(lines)
    OUT.write_text(
        '"""Weights of the legal detector, written by scripts/train_document_detectors.py.\n\n'
        "Do not edit by hand: change ``legal_signals.SIGNALS`` and rerun the script. The\n"
        "detector uses these only while ``SIGNATURE`` matches the rows (else the priors).\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        f"PRIOR_BIAS = {PRIOR_BIAS}\n"
        f"PRIOR_SHALL = {PRIOR_SHALL}\n"
        f"PRIOR_FORMAL = {PRIOR_FORMAL}\n"
        f'SIGNATURE = "{signature()}"\n'
        f"BIAS = {w[-1]:.4f}\n"
        f"SHALL = {w[-3]:.4f}\n"
        f"FORMAL = {w[-2]:.4f}\n"
        f"WEIGHTS: tuple[float, ...] = (\n{weights}\n)\n",
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    rows = samples(args.data)
    x = np.array([row[0] for row in rows])
    y = np.array([row[1] for row in rows])
    folds = np.array([row[2] for row in rows])
    weight = np.array([row[3] for row in rows])
    test = folds == 0
    print(f"{len(rows)} chunks past the gate ({int(y.sum())} legal)")
    held = fit(x[~test], y[~test], weight[~test])
    report(held, x[~test], y[~test], "train (4/5)")
    report(held, x[test], y[test], "held-out fifth")
    final = fit(x, y, weight)
    report(final, x, y, "all data")
    write(final)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
