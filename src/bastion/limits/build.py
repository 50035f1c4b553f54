"""Build the limiter a config asks for: rules, prices per model, store and ledger."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from bastion.config.schema import BastionConfig
from bastion.errors import ConfigError
from bastion.limits.ledger import LedgerWriter, SpendSink
from bastion.limits.limiter import ScopedLimiter
from bastion.limits.memory import MemoryCounterStore
from bastion.limits.periods import PeriodClock
from bastion.limits.pricing import ModelPrice, Pricer, find_price
from bastion.limits.rules import Measure, compile_rule


def model_prices(config: BastionConfig) -> dict[str, tuple[Pricer, int, bool]]:
    """Per public model: its pricer, output cap and whether a price was found."""
    limits = config.limits
    overrides = {
        name: ModelPrice(p.input, p.output, p.cached_input, p.max_output_tokens)
        for name, p in limits.pricing.items()
    }
    found: dict[str, tuple[Pricer, int, bool]] = {}
    for public, model in config.models.items():
        names = (public, *(target.model for target in model.targets))
        price = find_price(names, overrides)
        cap = limits.default_max_output_tokens
        if price is not None and price.max_output_tokens is not None:
            cap = price.max_output_tokens
        found[public] = (Pricer.of(price), cap, price is not None)
    return found


def build_limiter(
    config: BastionConfig,
    sink: SpendSink | None,
    *,
    on_soft_limit: Callable[[str, str], None] | None = None,
) -> tuple[ScopedLimiter, LedgerWriter | None] | None:
    """The limiter for ``config.limits`` (None without rules) and its ledger writer.

    ConfigError when a USD budget could apply to a model without a price: name it in
    ``limits.pricing`` (``input: 0`` for a free local model)."""
    limits = config.limits
    if not limits.rules:
        return None
    if config.server.workers > 1:
        raise ConfigError(
            "limits.rules need server.workers: 1 for now: counters live in one process, "
            "and several workers would each allow the full limit"
        )
    rules = [compile_rule(rule, limits.lease_ttl_s) for rule in limits.rules]
    prices = model_prices(config)
    money = [r for r in rules if any(s.measure is Measure.COST for s in r.reserve_specs)]
    for name, (_pricer, _cap, known) in sorted(prices.items()):
        if known:
            continue
        for rule in money:
            allowed = dict(rule.match).get("model")
            if allowed is None or name in allowed:
                raise ConfigError(
                    f"limits.rules ({rule.id}): a USD budget applies to model {name!r}, which "
                    f"has no known price; add limits.pricing.{name}: "
                    "{input: <USD per 1M>, output: <USD per 1M>} (input: 0 for a free model)"
                )
    fallback = (Pricer.of(None), limits.default_max_output_tokens)
    table = {name: (pricer, cap) for name, (pricer, cap, _known) in prices.items()}

    def price_of(model: str) -> tuple[Pricer, int]:
        return table.get(model, fallback)

    writer = LedgerWriter(sink) if sink is not None else None
    limiter = ScopedLimiter(
        rules,
        MemoryCounterStore(),
        price_of,
        PeriodClock(ZoneInfo(limits.timezone)),
        record_spend=writer.submit if writer is not None else None,
        on_soft_limit=on_soft_limit,
    )
    return limiter, writer
