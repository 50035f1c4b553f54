"""The injection classifier's plumbing: tokens, windows, markers, offsets, metrics."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.detect.injection.features import markers, tokens, window_bounds
from bastion.detect.injection.metrics import at_threshold, auc, roc_points
from bastion.detect.injection.offsets import token_char_spans


def test_tokens_keep_structure_marks_and_fold_digits() -> None:
    assert tokens("Ignore ALL rules!! Don't | 2024\nok?") == [
        b"ignore", b"all", b"rules", b"!", b"!", b"dont", b"|", b"0000", "¶".encode(),
        b"ok", b"?",
    ]  # fmt: skip


@pytest.mark.parametrize(("count", "size"), [(0, 4), (3, 4), (4, 4), (9, 4), (10, 4), (100, 32)])
def test_windows_cover_every_token_and_overlap_by_half(count: int, size: int) -> None:
    bounds = window_bounds(count, size)
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    for (start, end), (next_start, _) in pairwise(bounds):
        assert end - start == size and next_start - start == size // 2


def test_any_run_of_half_a_window_fits_in_one_window() -> None:
    size, count = 32, 500
    bounds = window_bounds(count, size)
    for first in range(count - size // 2):
        last = first + size // 2
        assert any(start <= first and last <= end for start, end in bounds)


def test_markers_come_with_the_same_tokens() -> None:
    text = "| a | b |\nDescribe the lifecycle of a butterfly.\n| c | d |"
    words, found = markers().tokens(text)
    assert words == tokens(text)
    assert found and all(0 <= position <= len(words) for position, _ in found)


@given(st.text(alphabet=st.sampled_from("ab \u00e9'\u2019?|\n.-1"), max_size=60))
def test_piecewise_tokens_equal_whole_tokens(text: str) -> None:
    assert markers().tokens(text)[0] == tokens(text)


@given(st.text(alphabet=st.sampled_from("ab \u00e9'\u2019?|\n.-1<"), min_size=1, max_size=80))
def test_token_spans_point_at_their_tokens(text: str) -> None:
    words = tokens(text)
    spans = token_char_spans(text, [(i, i + 1) for i in range(len(words))])
    for word, (start, end) in zip(words, spans, strict=True):
        assert tokens(text[start:end]) == [word]


def test_metrics_at_a_threshold_and_operating_points() -> None:
    scores = [0.9, 0.8, 0.3, 0.7, 0.2, 0.1]
    labels = [True, True, True, False, False, False]
    result = at_threshold(scores, labels, 0.5)
    assert (result["tp"], result["fp"], result["fn"], result["tn"]) == (2, 1, 1, 2)
    assert result["balanced_accuracy"] == pytest.approx((2 / 3 + 2 / 3) / 2, abs=1e-4)
    strict = roc_points(scores, labels, (0.0,))[0]
    assert strict["fpr"] == 0.0 and strict["tpr"] == pytest.approx(2 / 3, abs=1e-4)
    assert auc(scores, labels) == pytest.approx(8 / 9, abs=1e-4)
