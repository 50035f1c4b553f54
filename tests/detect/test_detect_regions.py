"""The document detectors' shared machinery: screens, signal sets, chunk bounds."""

from __future__ import annotations

from itertools import pairwise

import pytest

from bastion.detect.regions import CHUNK_LIMIT, Screen, SignalSet, chunk_bounds, utf8


@pytest.mark.parametrize(
    ("raw", "passes"),
    [
        pytest.param(b"the parties shall agree", True, id="hit-in-the-middle"),
        pytest.param(b"shall", True, id="hit-is-the-whole-text"),
        pytest.param(b"nothing legal here", False, id="miss"),
        pytest.param(b"", False, id="empty"),
        pytest.param(utf8("caf\u00e9 \ud800 shall"), True, id="non-ascii-and-a-lone-surrogate"),
    ],
)
def test_screen_says_whether_its_regex_occurs(raw: bytes, passes: bool) -> None:
    assert Screen(r"\bshall\b").passes(raw) is passes


def test_signal_set_names_the_patterns_present() -> None:
    signals = SignalSet([r"\bfoo\b", r"\bbar\b", r"\bbaz\b"])
    assert sorted(signals.present(b"baz and foo")) == [0, 2]
    assert signals.present(b"") == []


def test_chunks_cover_the_text_in_order() -> None:
    text = ("word " * 100 + "\n\n") * 20
    bounds = list(chunk_bounds(text))
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in pairwise(bounds))
    assert all(end - start <= CHUNK_LIMIT for start, end in bounds)
