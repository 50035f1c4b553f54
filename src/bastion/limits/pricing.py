"""Model prices and the cost of a call, in integer picodollars.

The built-in table holds OpenAI's list prices in USD per 1M tokens (standard tier,
text tokens) as published on https://openai.com/api/pricing and
https://platform.openai.com/docs/pricing, read 2025-08 (gpt-5 family as announced
2025-08-07; o3 after its 2025-06-10 price cut). ``max_output_tokens`` is each model's
documented output limit, used as the worst case when a call sets no ``max_tokens``.
Prices change: ``limits.pricing`` overrides any entry, by public or upstream name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bastion.model import Usage
from bastion.model.spend import PICO_USD

_PICO_PER_USD_PER_1M = PICO_USD // 1_000_000  # 1 USD per 1M tokens = 1e6 pUSD per token


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1M tokens; ``cached_input`` defaults to ``input``."""

    input: float
    output: float = 0.0
    cached_input: float | None = None
    max_output_tokens: int | None = None

    def __post_init__(self) -> None:
        if min(self.input, self.output, self.cached_input or 0.0) < 0:
            raise ValueError("prices cannot be negative")

    def per_token_pusd(self) -> tuple[int, int, int]:
        """(input, cached input, output) in picodollars per token, rounded up."""
        cached = self.input if self.cached_input is None else self.cached_input
        return (_pusd(self.input), _pusd(cached), _pusd(self.output))


def _pusd(usd_per_1m: float) -> int:
    # round(..., 6) first: 2.5 * 1e6 must be exactly 2_500_000, not 2_499_999.9999
    scaled = round(usd_per_1m * _PICO_PER_USD_PER_1M, 6)
    whole = int(scaled)
    return whole if whole == scaled else whole + 1


# fmt: off
BUILTIN_PRICES: Mapping[str, ModelPrice] = {
    # name:                      input, output, cached input, max output tokens
    "gpt-5":                     ModelPrice(1.25, 10.00, 0.125, 128_000),
    "gpt-5-mini":                ModelPrice(0.25, 2.00, 0.025, 128_000),
    "gpt-5-nano":                ModelPrice(0.05, 0.40, 0.005, 128_000),
    "gpt-4.1":                   ModelPrice(2.00, 8.00, 0.50, 32_768),
    "gpt-4.1-mini":              ModelPrice(0.40, 1.60, 0.10, 32_768),
    "gpt-4.1-nano":              ModelPrice(0.10, 0.40, 0.025, 32_768),
    "gpt-4o":                    ModelPrice(2.50, 10.00, 1.25, 16_384),
    "gpt-4o-2024-05-13":         ModelPrice(5.00, 15.00, None, 4_096),
    "gpt-4o-mini":               ModelPrice(0.15, 0.60, 0.075, 16_384),
    "gpt-4-turbo":               ModelPrice(10.00, 30.00, None, 4_096),
    "gpt-3.5-turbo":             ModelPrice(0.50, 1.50, None, 4_096),
    "o1":                        ModelPrice(15.00, 60.00, 7.50, 100_000),
    "o1-mini":                   ModelPrice(1.10, 4.40, 0.55, 65_536),
    "o3":                        ModelPrice(2.00, 8.00, 0.50, 100_000),
    "o3-mini":                   ModelPrice(1.10, 4.40, 0.55, 100_000),
    "o4-mini":                   ModelPrice(1.10, 4.40, 0.275, 100_000),
    "text-embedding-3-small":    ModelPrice(0.02, 0.0, None, 0),
    "text-embedding-3-large":    ModelPrice(0.13, 0.0, None, 0),
    "text-embedding-ada-002":    ModelPrice(0.10, 0.0, None, 0),
}
# fmt: on


def find_price(names: tuple[str, ...], overrides: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The price of the first name known: overrides, then the table, then the longest
    table entry the name starts with (``gpt-4o-2024-08-06`` → ``gpt-4o``)."""
    for name in names:
        if name in overrides:
            return overrides[name]
    for name in names:
        if name in BUILTIN_PRICES:
            return BUILTIN_PRICES[name]
    for name in names:
        best = max(
            (known for known in BUILTIN_PRICES if name.startswith(known + "-")),
            key=len,
            default=None,
        )
        if best is not None:
            return BUILTIN_PRICES[best]
    return None


@dataclass(frozen=True, slots=True)
class Pricer:
    """The cost of one model's calls, in picodollars."""

    input_pusd: int
    cached_pusd: int
    output_pusd: int

    @classmethod
    def of(cls, price: ModelPrice | None) -> Pricer:
        if price is None:
            return FREE
        return cls(*price.per_token_pusd())

    def cost(self, usage: Usage) -> int:
        """What ``usage`` costs: cached prompt tokens at their own price (at most
        ``MAX_CALL_PUSD``)."""
        cached = usage.cached_prompt_tokens
        cost = (
            (usage.prompt_tokens - cached) * self.input_pusd
            + cached * self.cached_pusd
            + usage.completion_tokens * self.output_pusd
        )
        return min(cost, MAX_CALL_PUSD)

    def worst_case(self, prompt_tokens: int, output_tokens: int) -> int:
        """The most a call can cost: no cache hit, every output token used."""
        return min(
            prompt_tokens * self.input_pusd + output_tokens * self.output_pusd, MAX_CALL_PUSD
        )


MAX_CALL_PUSD = 2**60
"""The most one call counts for (about USD 1.15M): the ledger, PostgreSQL and Redis hold
picodollars in 64 bits, and the highest configurable price (USD 1e6 per 1M tokens) times
the most tokens an upstream may report (1e8) would not fit."""


FREE = Pricer(0, 0, 0)
