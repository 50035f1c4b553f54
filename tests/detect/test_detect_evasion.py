"""The evasion corpus against the whole scanner (RELIABILITY.md "Hostile text").

At least 95 % of technique x payload cases must yield a finding of the payload's class
whose original span covers the payload (or the encoded run holding it), no technique may
hide every payload, and no benign control may yield a payload-class or evasion finding.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from evasion_corpus import Case, cases, controls, payloads

from bastion.detect.catalog import build_scanner
from bastion.detect.scanner import Scanner

PAYLOAD_CLASSES = frozenset(p.data_class for p in payloads())
EVASION_OF = {  # the evasion finding each technique must also raise (soft hyphens inside
    # words are only candidates, below the threshold: documents are full of them)
    "zero_width": "evasion.invisible",
    "zero_width_mix": "evasion.invisible",
    "invisible_operators": "evasion.invisible",
    "bidi_controls": "evasion.invisible",
    "hangul_filler": "evasion.invisible",
    "zero_width_homoglyph": "evasion.invisible",
    "json_zero_width": "evasion.invisible",
    "tag_characters": "evasion.tag_payload",
    "variation_selector_payload": "evasion.tag_payload",
    "homoglyph_cyrillic": "evasion.homoglyph",
    "homoglyph_greek": "evasion.homoglyph",
    "mixed_digits": "evasion.homoglyph",
}


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return build_scanner()


def _detected(scanner: Any, case: Case) -> bool:
    start, end = case.span
    return any(
        hit.data_class == case.payload.data_class and hit.start <= start and hit.end >= end
        for hit in scanner.scan(case.text).findings
    )


def test_corpus_is_large_and_varied() -> None:
    corpus = list(cases())
    assert len(corpus) >= 300
    assert len({case.technique for case in corpus}) >= 25
    assert {case.payload.data_class for case in corpus} == PAYLOAD_CLASSES


def test_hidden_payloads_are_found_with_their_class_and_span(scanner: Any) -> None:
    corpus = list(cases())
    missed = [case for case in corpus if not _detected(scanner, case)]
    rate = 1 - len(missed) / len(corpus)
    assert rate >= 0.95, f"{rate:.1%} detected; missed: {[case.id for case in missed]}"
    per_technique = Counter(case.technique for case in corpus)
    missed_per = Counter(case.technique for case in missed)
    hopeless = [name for name, total in per_technique.items() if missed_per[name] == total]
    assert not hopeless, f"techniques that hide every payload: {hopeless}"


def test_hiding_is_itself_reported(scanner: Any) -> None:
    corpus = [case for case in cases() if case.technique in EVASION_OF]
    silent = [
        case.id
        for case in corpus
        if EVASION_OF[case.technique]
        not in {hit.data_class for hit in scanner.scan(case.text).findings}
    ]
    assert not silent, f"no evasion finding for: {silent}"


@pytest.mark.parametrize("control", list(controls()), ids=lambda control: control.name)
def test_benign_controls_are_not_flagged(scanner: Any, control: Any) -> None:
    flagged = [
        (hit.data_class, control.text[hit.start : hit.end])
        for hit in scanner.scan(control.text).findings
        if hit.data_class in PAYLOAD_CLASSES or hit.data_class.startswith("evasion.")
    ]
    assert not flagged
