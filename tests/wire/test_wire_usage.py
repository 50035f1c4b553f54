"""The upstream's usage object, as billed: chat and Responses shapes, cached prompt
tokens priced apart, and anything malformed left to the estimate."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.limits.pricing import Pricer, find_price
from bastion.model import Usage
from bastion.wire.usage import usage_of


def test_chat_usage_with_cached_prompt_tokens() -> None:
    raw = {
        "prompt_tokens": 1000,
        "completion_tokens": 20,
        "total_tokens": 1020,
        "prompt_tokens_details": {"cached_tokens": 768, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert usage_of(raw) == Usage(1000, 20, cached_prompt_tokens=768)


def test_responses_usage_with_cached_input_tokens() -> None:
    raw = {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 1000},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1005,
    }
    assert usage_of(raw) == Usage(1000, 5, cached_prompt_tokens=1000)


def test_cached_tokens_are_billed_at_the_cached_price() -> None:
    # gpt-4o: USD 2.50 per 1M input tokens, 1.25 cached: a fully cached prompt costs half
    pricer = Pricer.of(find_price(("gpt-4o",), {}))
    cached = usage_of(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 1000},
        }
    )
    uncached = usage_of({"prompt_tokens": 1000, "completion_tokens": 0})
    assert cached is not None and uncached is not None
    assert pricer.cost(cached) * 2 == pricer.cost(uncached) > 0


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "12",
        {},
        {"prompt_tokens": -1, "completion_tokens": 2},
        {"prompt_tokens": True, "completion_tokens": 2},
        {"input_tokens": 3.5, "output_tokens": 1},
        {"prompt_tokens": "7", "completion_tokens": 1},
        {"prompt_tokens": 9_000_000_000_000_000_000, "completion_tokens": 1},
        {"input_tokens": 5, "output_tokens": 100_000_001},
    ],
    ids=[
        "null",
        "string",
        "empty",
        "negative",
        "bool",
        "float",
        "numeric-string",
        "absurd-prompt",
        "absurd-output",
    ],
)
def test_a_missing_or_malformed_usage_is_left_to_the_estimate(raw: Any) -> None:
    assert usage_of(raw) is None


@pytest.mark.parametrize("cached", [None, -3, 2000, "5", True])
def test_nonsense_cached_tokens_bill_the_whole_prompt_at_the_input_price(cached: Any) -> None:
    raw = {
        "prompt_tokens": 1000,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    assert usage_of(raw) == Usage(1000, 1)


def test_the_largest_plausible_count_is_billed() -> None:
    raw = {"prompt_tokens": 100_000_000, "completion_tokens": 100_000_000}
    assert usage_of(raw) == Usage(100_000_000, 100_000_000)
