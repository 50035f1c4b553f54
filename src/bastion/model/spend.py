"""Settled spend of one call: what the ledger stores and budgets are rebuilt from."""

from __future__ import annotations

from dataclasses import dataclass

PICO_USD = 10**12
"""Money is counted in integer picodollars (1e-12 USD): exact sums, no float drift."""


@dataclass(frozen=True, slots=True)
class SpendEntry:
    """One settled call: who, which model, tokens billed and their cost."""

    settled_at: float  # epoch seconds
    key_id: str
    user: str | None
    app: str | None
    team: str | None
    environment: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_pusd: int
    estimated: bool = False

    def __post_init__(self) -> None:
        if min(self.prompt_tokens, self.completion_tokens, self.cost_pusd) < 0:
            raise ValueError("spend cannot be negative")

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_usd(self) -> float:
        return self.cost_pusd / PICO_USD


@dataclass(frozen=True, slots=True)
class SpendTotal:
    """Spend since some instant by one combination of scope fields."""

    key_id: str
    user: str | None
    app: str | None
    team: str | None
    environment: str
    model: str
    tokens: int
    cost_pusd: int
    calls: int
