"""``bastion budgets`` and ``bastion usage``: where each configured budget stands this
period, and settled spend grouped by team, app, user, key, environment or model.

Both read the spend ledger in the database, so they show the same on every host; calls
still in flight (their reservations live in the gateway's counters) are not in it until
they settle. Read-only: any admin identity may run them; an app owner sees only its own
apps' and keys' budgets and spend, as in the admin API.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bastion.cli._context import (
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    echo_table,
    json_option,
    load_cli_config,
    open_database,
    run_async,
    split_list,
)
from bastion.config.schema import BastionConfig
from bastion.identity.ownership import Ownership, ownership_of
from bastion.limits.budget_status import BudgetStatus, budget_statuses
from bastion.limits.periods import period_at
from bastion.model.spend import PICO_USD
from bastion.storage import KeyRepository, SpendLedgerRepository
from bastion.storage.spend_usage import Owned, SpendGroup, SpendUsage

USAGE_FIELDS = {
    "team": "team",
    "app": "app",
    "user": "user",
    "key": "key_id",
    "key_id": "key_id",
    "environment": "environment",
    "env": "environment",
    "model": "model",
}
"""``--by`` names (CONTRACT.md §1 spellings and aliases) -> spend ledger fields."""

_HEADERS = {"key_id": "KEY", "environment": "ENV"}
_CENT = Decimal("0.01")


# --- budgets ----------------------------------------------------------------------------


@click.command("budgets")
@config_option
@admin_token_file_option
@click.option(
    "--scope",
    "scope_filters",
    multiple=True,
    help="Only scopes with this field value, e.g. team=finance (repeatable, all must match).",
)
@json_option
def budgets(
    config_file: Path | None,
    admin_token_file: Path | None,
    scope_filters: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show every budget with settled spend this period, per scope: limit, spent,
    remaining, percent used and whether its soft threshold is reached."""
    config = load_cli_config(config_file)
    wanted = _scope_filters(scope_filters)
    now = time.time()

    async def operation() -> list[BudgetStatus]:
        async with open_database(config) as db:
            owned = await ownership_of(await acting_admin(admin_token_file, db), KeyRepository(db))
            statuses = await budget_statuses(config.limits, SpendLedgerRepository(db), now)
        return [s for s in statuses if _visible(s, owned) and _matches(s, wanted)]

    statuses = run_async(operation)
    zone = ZoneInfo(config.limits.timezone)
    if as_json:
        echo_json(
            {
                "timezone": config.limits.timezone,
                "budgets": [budget_to_json(status, zone) for status in statuses],
            }
        )
        return
    configured = sum(len(rule.budgets) for rule in config.limits.rules)
    if not statuses:
        if configured:
            click.echo(f"No spend yet against the {configured} configured budget(s).")
        else:
            click.echo("No budgets configured (limits.rules[].budgets in the config file).")
        return
    headers = ["RULE", "SCOPE", "WINDOW", "START", "RESETS", "LIMIT", "SPENT", "LEFT", "USED"]
    rows = [_budget_row(status, zone) for status in statuses]
    echo_table([*headers, "SOFT"], rows)
    click.echo(f"Times in {config.limits.timezone}; calls in flight are not counted yet.")


def budget_to_json(status: BudgetStatus, zone: ZoneInfo) -> dict[str, Any]:
    """One budget of one scope as printed by ``--json``."""
    return {
        "rule": status.rule,
        "scope": status.scope,
        "measure": status.measure,
        "window": status.window,
        "period": status.period,
        "start": _local(status.start, zone),
        "resets_at": None if status.resets_at is None else _local(status.resets_at, zone),
        "limit": _number(status.limit, status),
        "spent": _number(status.spent, status),
        "remaining": _number(max(status.left, 0), status),
        "percent": round(status.share * 100, 2),
        "soft": status.soft,
        "soft_reached": _soft_reached(status),
        "exceeded": status.spent >= status.limit,
    }


def _budget_row(status: BudgetStatus, zone: ZoneInfo) -> list[str]:
    usd = status.measure == "usd"
    soft = "-" if status.soft is None else f"{status.soft * 100:g}%"
    if _soft_reached(status):
        soft += " reached"
    return [
        status.rule,
        ",".join(f"{field}={value}" for field, value in status.scope.items()) or "(all)",
        f"{'USD' if usd else 'tokens'} {status.window}",
        _local(status.start, zone, minutes=True),
        "-" if status.resets_at is None else _local(status.resets_at, zone, minutes=True),
        _amount(status.limit, usd),
        _amount(status.spent, usd),
        # rounded down: a budget never looks less used than it is (99.996 left is 99.99)
        _amount(max(status.left, 0), usd, rounding=ROUND_FLOOR),
        _share(status),
        soft,
    ]


def _soft_reached(status: BudgetStatus) -> bool:
    # Rounded so that 80.00 of 100 reaches a soft share of 0.8 despite float division.
    return status.soft is not None and round(status.share, 9) >= status.soft


def _number(value: float, status: BudgetStatus) -> float | int:
    """A JSON amount: tokens are whole numbers (5000, not 5000.0)."""
    return round(value) if status.measure == "tokens" else value


def _amount(value: float, usd: bool, *, rounding: str = ROUND_HALF_UP) -> str:
    """Tokens whole, USD to the cent (1,234.50); an amount above zero but below a cent
    is ``<0.01``, never ``0.00``, which would read as nothing spent or nothing left."""
    if not usd:
        return f"{round(value):,}"
    amount = Decimal(repr(value))  # the float as written: 0.29, not 0.28999…
    if 0 < amount < _CENT:
        return "<0.01"
    return f"{amount.quantize(_CENT, rounding=rounding):,.2f}"


def _share(status: BudgetStatus) -> str:
    percent = status.share * 100
    return "<0.1%" if 0 < percent < 0.05 else f"{percent:.1f}%"


def _local(at: float, zone: ZoneInfo, *, minutes: bool = False) -> str:
    moment = datetime.fromtimestamp(at, zone)
    return moment.isoformat(timespec="minutes" if minutes else "seconds")


def _scope_filters(values: tuple[str, ...]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for text in values:
        field, sep, value = text.partition("=")
        field = {"env": "environment", "key_id": "key"}.get(field.strip(), field.strip())
        if not sep or not value.strip() or field not in {*USAGE_FIELDS.values(), "key"}:
            raise click.BadParameter(
                f"{text!r} is not FIELD=VALUE with a field of key, user, app, team, "
                "environment, model (e.g. team=finance)",
                param_hint="--scope",
            )
        wanted[field] = value.strip()
    return wanted


def _matches(status: BudgetStatus, wanted: dict[str, str]) -> bool:
    return all(status.scope.get(field) == value for field, value in wanted.items())


def _visible(status: BudgetStatus, owned: Ownership | None) -> bool:
    """Everything, except that an app owner sees budgets scoped to its apps or keys."""
    return owned is None or owned.covers_call(status.scope.get("key"), status.scope.get("app"))


# --- usage ------------------------------------------------------------------------------


@click.command("usage")
@config_option
@admin_token_file_option
@click.option(
    "--by",
    "group_by",
    multiple=True,
    help="Group by team, app, user, key, environment (env) or model; comma-separated "
    "or repeated for combinations (default: team).",
)
@click.option(
    "--from",
    "from_text",
    default=None,
    help="Start, ISO-8601 (2026-11-01 or 2026-11-01T09:00); without an offset it is in "
    "limits.timezone. Default: the start of the current month.",
)
@click.option(
    "--to",
    "to_text",
    default=None,
    help="End, excluded (2026-12-01 covers all of November). Default: the end of the "
    "current month when --from is not given, else now.",
)
@json_option
def usage(
    config_file: Path | None,
    admin_token_file: Path | None,
    group_by: tuple[str, ...],
    from_text: str | None,
    to_text: str | None,
    as_json: bool,
) -> None:
    """Show settled calls, prompt and completion tokens and cost in USD, grouped."""
    config = load_cli_config(config_file)
    fields = _group_fields(group_by)
    zone = ZoneInfo(config.limits.timezone)
    since, until = _time_range(from_text, to_text, zone, time.time())

    async def operation() -> list[SpendGroup]:
        async with open_database(config) as db:
            owned = await ownership_of(await acting_admin(admin_token_file, db), KeyRepository(db))
            mine = Owned(owned.key_ids, owned.apps) if owned is not None else None
            return await SpendUsage(db).grouped(
                since=since, until=until, group_by=fields, owned=mine
            )

    groups = run_async(operation)
    if as_json:
        echo_json(usage_to_json(config, fields, since, until, groups, zone))
        return
    period = f"{_local(since, zone, minutes=True)} to " + (
        "now" if until is None else _local(until, zone, minutes=True)
    )
    if not groups:
        click.echo(f"No settled calls from {period}.")
        if not config.limits.rules:  # the ledger is written by the limits stage only
            click.echo(
                "No spend is recorded: the config has no limits.rules (docs/limits.md); "
                "`bastion audit search` lists the calls with their tokens and cost."
            )
        return
    headers = [_HEADERS.get(field, field.upper()) for field in fields]
    numbers = ["CALLS", "PROMPT", "COMPLETION", "TOKENS", "COST_USD"]
    rows = [[v or "-" for v in (g.values[f] for f in fields)] + _sums([g]) for g in groups]
    total = ["TOTAL", *[""] * (len(fields) - 1), *_sums(groups)]
    echo_table([*headers, *numbers], [*rows, total])
    click.echo(f"Settled calls from {period} ({config.limits.timezone}).")


def usage_to_json(
    config: BastionConfig,
    fields: list[str],
    since: float,
    until: float | None,
    groups: list[SpendGroup],
    zone: ZoneInfo,
) -> dict[str, Any]:
    """The usage report as printed by ``--json``."""
    return {
        "from": _local(since, zone),
        "to": None if until is None else _local(until, zone),
        "timezone": config.limits.timezone,
        "group_by": fields,
        "groups": [{"group": dict(g.values), **_sums_json([g])} for g in groups],
        "total": _sums_json(groups),
    }


def _sums_json(groups: list[SpendGroup]) -> dict[str, Any]:
    prompt = sum(g.prompt_tokens for g in groups)
    completion = sum(g.completion_tokens for g in groups)
    return {
        "calls": sum(g.calls for g in groups),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "tokens": prompt + completion,
        "cost_usd": sum(g.cost_pusd for g in groups) / PICO_USD,
    }


def _sums(groups: list[SpendGroup]) -> list[str]:
    sums = _sums_json(groups)
    counts = (sums[k] for k in ("calls", "prompt_tokens", "completion_tokens", "tokens"))
    # to the cent, as `budgets` shows money (<0.01 for spend below a cent); --json is exact
    return [*(f"{n:,}" for n in counts), _amount(sums["cost_usd"], usd=True)]


def _group_fields(values: tuple[str, ...]) -> list[str]:
    names = split_list(values) or ("team",)
    unknown = [name for name in names if name not in USAGE_FIELDS]
    if unknown:
        raise click.BadParameter(
            f"cannot group by {', '.join(map(repr, unknown))}; "
            "use team, app, user, key, environment (env) or model",
            param_hint="--by",
        )
    return list(dict.fromkeys(USAGE_FIELDS[name] for name in names))


def _time_range(
    from_text: str | None, to_text: str | None, zone: ZoneInfo, now: float
) -> tuple[float, float | None]:
    """``[since, until)`` in epoch seconds; None: up to now."""
    if from_text is None and to_text is None:
        month = period_at("month", now, zone)
        return month.start, month.end
    since = (
        _instant(from_text, zone, "--from")
        if from_text is not None
        else period_at("month", now, zone).start
    )
    until = _instant(to_text, zone, "--to") if to_text is not None else None
    if until is not None and until <= since:
        start = datetime.fromtimestamp(since, zone).isoformat(timespec="minutes")
        raise click.BadParameter(
            f"{to_text!r} is not after the start of the range ({start}); set --from",
            param_hint="--to",
        )
    return since, until


def _instant(text: str, zone: ZoneInfo, option: str) -> float:
    """An ISO-8601 date or date-time; a date is its local midnight in ``zone``."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not an ISO-8601 date or date-time "
            "(2026-11-01, 2026-11-01T09:00, 2026-11-01T09:00:00Z)",
            param_hint=option,
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()
