"""The window model's two scoring paths report the same findings.

``WindowScorer`` scores long texts with arrays and short ones with a scalar loop; the
detector must report the same thing whichever path a text takes. Checked on the shared
dev data (every row, and rows joined into long retrieved contexts) with the shipped
weights, each path forced in turn.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from test_detect_injection_pastes import ATTACKS_IN_PASTES, BENIGN_PASTES

from bastion.detect.injection import InjectionDetector
from bastion.detect.injection.features import WindowScorer
from bastion.detect.injection.model import WEIGHTS_FILE, InjectionModel, Reading
from bastion.detect.patterns import Hit

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
JOINED = 25
"""Rows per long text: well past the array path's default threshold in tokens."""


def _reading(entry: dict[str, Any], vector_from: int) -> Reading:
    scorer = WindowScorer(
        float(entry["bias"]), entry["words"], entry["pairs"], int(entry["window"]),
        vector_from=vector_from,
    )  # fmt: skip
    a, b = entry["platt"]
    return Reading(scorer, float(a), float(b))


def _detector(vector_from: int) -> InjectionDetector:
    raw = resources.files("bastion.detect.injection").joinpath(WEIGHTS_FILE).read_text("utf-8")
    document = json.loads(raw)
    shipped = InjectionModel.from_json(document)
    model = InjectionModel(
        _reading(document["direct"], vector_from),
        _reading(document["indirect"], vector_from),
        shipped.thresholds,
    )
    return InjectionDetector(model)


def _same(arrays: list[Hit], scalar: list[Hit]) -> None:
    assert [(h.data_class, h.start, h.end, h.meta) for h in arrays] == [
        (h.data_class, h.start, h.end, h.meta) for h in scalar
    ]
    for one, other in zip(arrays, scalar, strict=True):
        # scores are rounded to 4 places; sums in another order may round the other way
        assert one.score == pytest.approx(other.score, abs=1e-4)


@pytest.mark.parametrize(
    ("name", "source"),
    [
        pytest.param("injection-direct.dev.jsonl", "user", id="direct"),
        pytest.param("injection-indirect.dev.jsonl", "retrieved", id="indirect"),
    ],
)
def test_both_scoring_paths_report_the_same_on_the_dev_data(name: str, source: str) -> None:
    path = DATA / name
    if not path.exists():
        pytest.skip("labelled data (shared/data) not present")
    texts = [json.loads(line)["text"] for line in path.read_text("utf-8").split("\n") if line]
    long = ["\n\n".join(texts[at : at + JOINED]) for at in range(0, len(texts), JOINED)]
    arrays, scalar = _detector(0), _detector(10**9)
    reported = 0
    for text in texts + long:
        found = arrays.detect(text, source, all_scores=True)
        _same(found, scalar.detect(text, source, all_scores=True))
        reported += bool(found) and found[0].score >= arrays.threshold(source)
    assert reported  # the comparison covered reported findings, not only scores below


def test_both_scoring_paths_report_the_same_on_pastes_and_runs_of_marks() -> None:
    """Markup, address lists and runs of one mark repeat the counted features that
    saturate per window: both paths correct the same windows by the same amount."""
    runs = [mark * 3000 + " ok" for mark in "<@{!:\n"] + ["a < b @ c\n" * 400]
    texts = [*BENIGN_PASTES.values(), *ATTACKS_IN_PASTES.values(), *runs]
    arrays, scalar = _detector(0), _detector(10**9)
    for text in texts:
        for source in ("user", "retrieved"):
            _same(
                arrays.detect(text, source, all_scores=True),
                scalar.detect(text, source, all_scores=True),
            )
