"""Build the limiter a config asks for: rules, prices per model, store and ledger."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bastion.config.schema import BastionConfig
from bastion.errors import ConfigError
from bastion.limits.degrade import LocalLimits
from bastion.limits.ledger import LedgerWriter, SpendSink, added_counters, rebuild
from bastion.limits.limiter import ScopedLimiter
from bastion.limits.memory import MemoryCounterStore
from bastion.limits.periods import PeriodClock
from bastion.limits.pricing import ModelPrice, Pricer, find_price
from bastion.limits.redis_store import RedisCounterStore
from bastion.limits.rules import Measure, Rule, compile_rule
from bastion.limits.sqlite_store import SqliteCounterStore
from bastion.limits.store import CounterStore

log = logging.getLogger("bastion.limits")


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


def known_prices(config: BastionConfig) -> dict[str, Pricer]:
    """The pricer of every configured model whose price is known (overrides or table)."""
    return {name: pricer for name, (pricer, _, found) in model_prices(config).items() if found}


def build_store(
    config: BastionConfig,
    *,
    on_fail_open: Callable[[], None] | None = None,
    on_degraded: Callable[[str], None] | None = None,
) -> CounterStore:
    """The counter store ``limits.store`` names (``store_kind``; ConfigError when Redis
    is asked for without a usable URL). ``on_degraded(outcome)`` hears of every decision taken on
    local limits while Redis is down (``limits.on_store_down: degrade``)."""
    limits = config.limits
    store = store_kind(config)
    if store == "memory":
        return MemoryCounterStore()
    if store == "sqlite":
        if limits.store == "memory":
            log.info(
                "limits: server.workers is %d, so the workers share their counters in %s "
                "(limits.store: memory with several workers)",
                config.server.workers,
                shared_file(config),
            )
        return SqliteCounterStore(shared_file(config))
    if not config.redis.url:
        raise ConfigError("limits.store: redis needs redis.url (redis://host:6379/0)")
    if not _redis_url_ok(config.redis.url):
        raise ConfigError(_BAD_REDIS_URL)  # never the URL: it may hold a password
    try:
        return RedisCounterStore(
            config.redis.url,
            key_prefix=config.redis.key_prefix,
            timeout_s=config.redis.timeout_s,
            fail_open=limits.on_store_down == "open",
            on_fail_open=on_fail_open,
            local=LocalLimits(limits.replicas, on_degraded)
            if limits.on_store_down == "degrade"
            else None,
        )
    except ValueError:
        raise ConfigError(_BAD_REDIS_URL) from None


def store_kind(config: BastionConfig) -> str:
    """Where counters (and idempotent answers) live: ``limits.store``, except that
    ``memory`` with several workers is the file they share (``sqlite``)."""
    store = config.limits.store
    if store == "memory" and config.server.workers > 1:
        return "sqlite"
    return store


def shared_file(config: BastionConfig) -> Path:
    """The sqlite store's file: ``limits.sqlite_file``; default ``limits.db`` beside a
    SQLite database, else beside the audit log's directory (``audit.location``), which
    the gateway writes to anyway."""
    if config.limits.sqlite_file is not None:
        return config.limits.sqlite_file
    url = config.storage.url
    if url.startswith(("sqlite:///", "sqlite+aiosqlite:///")):
        database = url.split(":///", 1)[1].split("?", 1)[0]
        if database and not database.startswith((":memory:", "file:")):
            return Path(database).parent / "limits.db"
    wal_dir = config.audit.wal_dir or Path(".bastion") / "audit-wal"
    return wal_dir.parent / "limits.db"


_BAD_REDIS_URL = (
    "redis.url: not a Redis URL; expected redis://[user:password@]host[:port][/db] "
    "(rediss:// for TLS)"
)


def _redis_url_ok(url: str) -> bool:
    """A ``redis://`` or ``rediss://`` URL with a host and, if any, a numeric database."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    database = parts.path.lstrip("/")
    return (
        parts.scheme in ("redis", "rediss")
        and bool(parts.hostname)
        and (not database or database.isdigit())
    )


def check_budget_prices(config: BastionConfig) -> None:
    """ConfigError when a USD budget could apply to a model without a price (``serve``
    and ``config validate`` both ask): name it in ``limits.pricing`` (``input: 0`` for a
    free local model)."""
    limits = config.limits
    rules = [compile_rule(rule, limits.lease_ttl_s) for rule in limits.rules]
    money = [r for r in rules if any(s.measure is Measure.COST for s in r.reserve_specs)]
    if not money:
        return
    for name, (_pricer, _cap, known) in sorted(model_prices(config).items()):
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


LimiterSettings = tuple[list[Rule], Callable[[str], tuple[Pricer, int]], PeriodClock]
"""A limiter's rules, each model's pricer and output cap, and the periods' clock."""


def limiter_settings(config: BastionConfig) -> LimiterSettings:
    """What a limiter counts by (its rules, each model's pricer and output cap, the
    periods' clock), at start-up and on a reload; ConfigError as ``check_budget_prices``
    says."""
    limits = config.limits
    check_budget_prices(config)
    rules = [compile_rule(rule, limits.lease_ttl_s) for rule in limits.rules]
    fallback = (Pricer.of(None), limits.default_max_output_tokens)
    table = {name: (pricer, cap) for name, (pricer, cap, _known) in model_prices(config).items()}

    def price_of(model: str) -> tuple[Pricer, int]:
        return table.get(model, fallback)

    return rules, price_of, PeriodClock(ZoneInfo(limits.timezone))


def build_limiter(
    config: BastionConfig,
    sink: SpendSink | None,
    *,
    on_soft_limit: Callable[[str, str], None] | None = None,
    on_fail_open: Callable[[], None] | None = None,
    on_degraded: Callable[[str], None] | None = None,
) -> tuple[ScopedLimiter, LedgerWriter | None] | None:
    """The limiter for ``config.limits`` (None without rules) and its ledger writer;
    ConfigError as ``check_budget_prices`` says."""
    if not config.limits.rules:
        return None
    rules, price_of, clock = limiter_settings(config)
    store = build_store(config, on_fail_open=on_fail_open, on_degraded=on_degraded)
    writer = LedgerWriter(sink) if sink is not None else None
    limiter = ScopedLimiter(
        rules,
        store,
        price_of,
        clock,
        record_spend=writer.submit if writer is not None else None,
        on_soft_limit=on_soft_limit,
    )
    if sink is not None and isinstance(store, RedisCounterStore | SqliteCounterStore):
        # when the shared counters are found empty (Redis lost its data, a cleared file)

        async def rebuild_from_ledger() -> int:
            return await rebuild(limiter, sink, time.time())

        store.rebuild_from = rebuild_from_ledger
    return limiter, writer


async def reconfigure_limiter(
    limiter: ScopedLimiter,
    settings: LimiterSettings,
    sink: SpendSink | None,
    counted: Sequence[Rule],
) -> list[Rule]:
    """Count the next calls under a reloaded config's ``settings`` (``limiter_settings``).

    A limit whose rule keeps its id, scope and window keeps its counter (a new value
    applies to what it already holds); a counter the store does not hold yet (a new
    rule, scope or window, or a scope a changed ``match`` now covers) starts from the
    ledger's spend of its period or window, like at start-up, in every store: the
    rebuild seeds only missing counters, and runs before the new rules take any.
    ``counted``: every rule whose counters the store may hold; returns it updated (the
    rules a reload adds are named in the log)."""
    rules, price_of, clock = settings
    added = added_counters(rules, counted)
    new = [rule for rule in rules if added[rule.id]]
    if sink is not None:
        # seeded before the rules change, with no await in between: no call of this
        # process takes a new counter before it holds the period's spend
        seeded = await rebuild(limiter.staged(rules, price_of, clock), sink, time.time())
        if new or seeded:
            log.info(
                "limits: the reload adds limits of %s; %d counters start from the spend ledger",
                ", ".join(rule.id for rule in new) or "no new rule",
                seeded,
            )
    limiter.reconfigure(rules, price_of, clock)
    return [*counted, *new]
