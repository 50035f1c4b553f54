"""Prices: the built-in table, overrides, dated names, exact picodollar costs."""

from __future__ import annotations

import pytest

from bastion.limits.pricing import BUILTIN_PRICES, MAX_CALL_PUSD, ModelPrice, Pricer, find_price
from bastion.model import Usage
from bastion.model.spend import PICO_USD


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("gpt-4o",), "gpt-4o"),
        (("my-chat", "gpt-4o-2024-08-06"), "gpt-4o"),
        (("gpt-4o-mini-2024-07-18",), "gpt-4o-mini"),
        (("gpt-4.1-nano",), "gpt-4.1-nano"),
        (("o4-mini",), "o4-mini"),
        (("text-embedding-3-small",), "text-embedding-3-small"),
    ],
)
def test_names_find_their_table_entry(names: tuple[str, ...], expected: str) -> None:
    assert find_price(names, {}) is BUILTIN_PRICES[expected]


def test_unknown_models_have_no_price_and_overrides_win() -> None:
    assert find_price(("llama-3.1-70b",), {}) is None
    mine = ModelPrice(1.0, 2.0)
    assert find_price(("gpt-4o",), {"gpt-4o": mine}) is mine


def test_cost_counts_cached_prompt_tokens_at_their_price() -> None:
    pricer = Pricer.of(BUILTIN_PRICES["gpt-4o"])  # 2.50 in, 1.25 cached, 10.00 out
    usage = Usage(1_000_000, 1_000_000, cached_prompt_tokens=400_000)
    assert pricer.cost(usage) == (1.5 + 0.5 + 10.0) * PICO_USD
    assert pricer.worst_case(1_000_000, 1_000_000) == 12.5 * PICO_USD


def test_small_prices_are_exact_and_sums_do_not_drift() -> None:
    pricer = Pricer.of(BUILTIN_PRICES["gpt-4o-mini"])  # 0.15 / 0.60 per 1M
    one = pricer.cost(Usage(1, 1))
    assert one == 150_000 + 600_000
    assert sum(pricer.cost(Usage(1, 1)) for _ in range(1_000_000)) == PICO_USD * 3 // 4


def test_prices_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        ModelPrice(-1.0)


def test_the_costliest_call_still_fits_the_ledgers_64_bits() -> None:
    """The highest configurable price times the most tokens an upstream may report
    (1e8: more is malformed) would be 1e20 picodollars: a ledger write and a Redis sum
    would fail, and the call would go unbilled. One call counts for at most 2**60."""
    pricer = Pricer.of(ModelPrice(1e6, 1e6))
    cost = pricer.cost(Usage(prompt_tokens=10**8, completion_tokens=10**8))
    assert cost == MAX_CALL_PUSD < 2**63
    assert pricer.worst_case(10**8, 10**6) == MAX_CALL_PUSD
    assert Pricer.of(ModelPrice(1.0, 2.0)).cost(Usage(1000, 500)) == 2000 * PICO_USD // 10**6
