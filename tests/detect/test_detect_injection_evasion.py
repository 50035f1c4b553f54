"""The injection evasion corpus (``injection_corpus``) against ``InjectionDetector``.

At least 90 % of technique x payload cases (encoded, homoglyph, invisible, tag
characters, diluted in long text, split over lines, ...) must be reported as injection
of the right class; no benign control using the same techniques may be reported.
"""

from __future__ import annotations

from collections import Counter

import pytest
from injection_corpus import Case, cases, controls

from bastion.detect.injection import InjectionDetector, data_class


@pytest.fixture(scope="module")
def detector() -> InjectionDetector:
    return InjectionDetector()


def _reported(detector: InjectionDetector, case: Case) -> bool:
    hits = detector.detect(case.text, case.source)
    return any(hit.data_class == data_class(case.source) for hit in hits)


def test_at_least_90_percent_of_hidden_attacks_are_reported(detector: InjectionDetector) -> None:
    all_cases = list(cases())
    missed = [case.id for case in all_cases if not _reported(detector, case)]
    rate = 1 - len(missed) / len(all_cases)
    assert rate >= 0.90, f"{rate:.1%} detected; missed {Counter(missed)}"


def test_no_technique_hides_most_attacks(detector: InjectionDetector) -> None:
    by_technique: dict[str, list[bool]] = {}
    for case in cases():
        by_technique.setdefault(case.technique, []).append(_reported(detector, case))
    weak = {name: f"{sum(seen)}/{len(seen)}" for name, seen in by_technique.items()
            if sum(seen) < len(seen) / 2}  # fmt: skip
    assert not weak, f"techniques that hide most attacks: {weak}"


@pytest.mark.parametrize("case", list(controls()), ids=lambda case: case.id)
def test_benign_controls_are_not_reported(detector: InjectionDetector, case: Case) -> None:
    assert detector.detect(case.text, case.source) == []
