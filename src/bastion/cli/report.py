"""``bastion report``: the evidence report for a period, as one self-contained HTML file
(or its data as JSON), from the services the admin overview already uses.

Calls, decisions, injections and exception uses come from ``storage.call_stats``; top
rules from ``storage.rule_stats``; adoption from the spend ledger (``spend_usage``);
spend against budgets from ``limits.budget_status``; policy versions and exceptions
from their repositories; and the whole audit chain is verified (``audit.verify``) with
the signed checkpoints when the deployment's keyring is at hand. Read-only: any admin
identity may run it. Exit 0 when written, 1 when the chain does not verify (the report
is still written and shows where it broke), 2 on a usage error.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bastion.audit import location
from bastion.audit.checkpoints import Checkpoint, public_keys, read_checkpoints
from bastion.audit.verify import Verification, verify
from bastion.cli._context import (
    READ_RECORDS,
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    json_option,
    load_cli_config,
    open_database,
    run_async,
)
from bastion.cli.audit_search import parse_moment
from bastion.cli.report_data import (
    CONTROLS,
    BudgetRow,
    CallsOverTime,
    ChainResult,
    EnvironmentCalls,
    EvidenceReport,
    ExceptionEvent,
    InjectionRow,
    OwnerExceptions,
    PolicyInForce,
    RuleRow,
    TeamAdoption,
)
from bastion.cli.report_html import render_html
from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import load_keyring
from bastion.crypto.location import keyring_location
from bastion.errors import BastionError
from bastion.identity.admin import RECORD_READERS, require_role
from bastion.limits.budget_status import budget_statuses
from bastion.model.exceptions import ExceptionState
from bastion.model.spend import PICO_USD
from bastion.storage import SpendLedgerRepository
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.call_search import CallFilter, CallSearch
from bastion.storage.call_stats import CallBucket, CallStats
from bastion.storage.database import Database
from bastion.storage.exceptions import ExceptionRepository, StoredException
from bastion.storage.policies import PolicyRepository
from bastion.storage.rule_stats import RuleStats
from bastion.storage.spend_usage import SpendUsage

DEFAULT_DAYS = 30
TOP_RULES = 10
HOUR_S, DAY_S, WEEK_S = 3600.0, 86400.0, 604800.0
_NONE = "(none)"


@click.command("report")
@config_option
@admin_token_file_option
@click.option(
    "--from",
    "from_text",
    default=None,
    help="Start, ISO-8601 (2026-11-01, 2026-11-01T09:00:00Z; UTC when no offset). "
    f"Default: {DEFAULT_DAYS} days before --to.",
)
@click.option("--to", "to_text", default=None, help="End, excluded, ISO-8601. Default: now.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@json_option
def report(
    config_file: Path | None,
    admin_token_file: Path | None,
    from_text: str | None,
    to_text: str | None,
    out_file: Path,
    as_json: bool,
) -> None:
    """Write the evidence report for a period: calls by environment, blocked and redacted
    requests, injections, exceptions by app owner, adoption by team, spend vs budget,
    top rules, policy versions, exceptions granted and expired, and the audit chain
    verification, each section mapped to the controls it evidences."""
    now = time.time()
    since, until = report_range(from_text, to_text, now)
    config = load_cli_config(config_file)

    async def operation() -> EvidenceReport:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, RECORD_READERS, READ_RECORDS)  # organisation-wide figures
            return await gather_report(config, db, since, until, now, generated_by=actor.subject)

    evidence = run_async(operation)
    if as_json:
        echo_json(report_to_json(evidence))
    else:
        try:
            out_file.write_text(render_html(evidence), encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {out_file}: {exc.strerror}") from exc
        click.echo(f"wrote {out_file} ({evidence.total_calls:,} calls)")
    if not evidence.chain.ok:
        click.echo(f"audit chain does NOT verify: {evidence.chain.problem}", err=True)
        raise SystemExit(1)


def report_range(from_text: str | None, to_text: str | None, now: float) -> tuple[float, float]:
    """``[since, until)`` in epoch seconds; bad or empty ranges are usage errors."""
    until = parse_moment(to_text, option="--to") if to_text is not None else now
    since = (
        parse_moment(from_text, option="--from")
        if from_text is not None
        else until - DEFAULT_DAYS * DAY_S
    )
    if since >= until:
        raise click.UsageError(f"--from ({_iso(since)}) must be before --to ({_iso(until)})")
    return since, until


def bucket_width(since: float, until: float) -> float:
    """Hours for up to two days, days up to 93 days, weeks beyond."""
    span = until - since
    if span <= 2 * DAY_S:
        return HOUR_S
    return DAY_S if span <= 93 * DAY_S else WEEK_S


async def gather_report(
    config: BastionConfig,
    db: Database,
    since: float,
    until: float,
    now: float,
    *,
    generated_by: str,
) -> EvidenceReport:
    """Read everything the report shows for ``[since, until)``."""
    window = CallFilter(since=since, until=until)  # a bare range: whole hours from rollups
    conditions = CallSearch(db).conditions(window)
    stats = CallStats(db)
    bucket_s = bucket_width(since, until)
    origin = since - since % bucket_s  # buckets on whole hours, days (UTC) or weeks
    buckets = await stats.calls_over_time(window, since=origin, bucket_s=bucket_s)
    decisions = await stats.decisions(window)
    injections = await stats.injections(window)
    uses = await stats.exception_uses(window)
    rules = await RuleStats(db).top_rules(conditions, limit=TOP_RULES)
    return EvidenceReport(
        since=since,
        until=until,
        generated_at=now,
        generated_by=generated_by,
        decisions=tuple(sorted(decisions.items(), key=lambda item: (-item[1], item[0]))),
        calls_over_time=_over_time(buckets, origin, until, bucket_s),
        environments=_environments(buckets),
        injections=tuple(
            InjectionRow(i.data_class, i.source, i.detections, i.calls) for i in injections
        ),
        exception_uses=tuple(
            OwnerExceptions(u.owner or _NONE, u.calls, u.exceptions) for u in uses
        ),
        adoption=await _adoption(db, since, until),
        budgets=await _budgets(config, db, now),
        budgets_as_of=now,
        rules=tuple(RuleRow(r.rule, r.calls, r.refused) for r in rules),
        policies=await _policies(db, since, until),
        exceptions=_exception_events(await ExceptionRepository(db).list(), since, until, now),
        chain=await _chain(config, db),
    )


def report_to_json(evidence: EvidenceReport) -> dict[str, Any]:
    """The report's data as printed by ``--json`` (times as epoch seconds, plus ISO)."""
    return {
        "from": _iso(evidence.since),
        "to": _iso(evidence.until),
        "total_calls": evidence.total_calls,
        **dataclasses.asdict(evidence),
        "decisions": dict(evidence.decisions),
        "controls": {name: list(items) for name, items in CONTROLS.items()},
    }


# --- reading ----------------------------------------------------------------------------


def _over_time(
    buckets: list[CallBucket], origin: float, until: float, bucket_s: float
) -> CallsOverTime:
    count = max(1, int(-(-(until - origin) // bucket_s)))
    starts = tuple(origin + index * bucket_s for index in range(count))
    series: dict[str, list[int]] = {}
    for bucket in buckets:
        index = round((bucket.start - origin) / bucket_s)
        values = series.setdefault(bucket.environment or _NONE, [0] * count)
        if 0 <= index < count:
            values[index] += bucket.calls
    ordered = sorted(series.items(), key=lambda item: (-sum(item[1]), item[0]))
    return CallsOverTime(bucket_s, starts, tuple((name, tuple(v)) for name, v in ordered))


def _environments(buckets: list[CallBucket]) -> tuple[EnvironmentCalls, ...]:
    sums: dict[str, list[int]] = {}
    for bucket in buckets:
        row = sums.setdefault(bucket.environment or _NONE, [0, 0, 0])
        row[0] += bucket.calls
        row[1] += bucket.blocked
        row[2] += bucket.redacted
    ordered = sorted(sums.items(), key=lambda item: (-item[1][0], item[0]))
    return tuple(EnvironmentCalls(name, *row) for name, row in ordered)


async def _adoption(db: Database, since: float, until: float) -> tuple[TeamAdoption, ...]:
    usage = SpendUsage(db)
    teams = await usage.grouped(since=since, until=until, group_by=["team"])
    apps = await usage.grouped(since=since, until=until, group_by=["team", "app"])
    users = await usage.grouped(since=since, until=until, group_by=["team", "user"])

    def distinct(groups: list[Any], field: str, team: str | None) -> int:
        return sum(1 for g in groups if g.values["team"] == team and g.values[field] is not None)

    found = [
        TeamAdoption(
            team=g.values["team"] or _NONE,
            calls=g.calls,
            apps=distinct(apps, "app", g.values["team"]),
            users=distinct(users, "user", g.values["team"]),
            tokens=g.prompt_tokens + g.completion_tokens,
            cost_usd=g.cost_pusd / PICO_USD,
        )
        for g in teams
    ]
    return tuple(sorted(found, key=lambda t: (-t.calls, t.team)))


async def _budgets(config: BastionConfig, db: Database, now: float) -> tuple[BudgetRow, ...]:
    statuses = await budget_statuses(config.limits, SpendLedgerRepository(db), now)
    statuses.sort(key=lambda s: -s.share)  # the most used first
    return tuple(
        BudgetRow(
            rule=s.rule,
            scope=",".join(f"{field}={value}" for field, value in s.scope.items()) or "(all)",
            measure=s.measure,
            window=s.window,
            period=s.period,
            limit=s.limit,
            spent=s.spent,
            share=s.share,
            soft=s.soft,
        )
        for s in statuses
    )


async def _policies(db: Database, since: float, until: float) -> tuple[PolicyInForce, ...]:
    """Activations made during the period, and the one in force when it began."""
    repository = PolicyRepository(db)
    found: list[PolicyInForce] = []
    before: int | None = None
    while True:
        page = await repository.history(100, before=before)
        for activation in page:
            at = activation.activated_at.timestamp()
            if at >= until:
                continue
            found.append(
                PolicyInForce(
                    activation.version.version,
                    at,
                    activation.activated_by,
                    activation.reason.value,
                    active_at_end=not found,
                )
            )
            if at <= since:
                return tuple(reversed(found))
        if len(page) < 100:
            return tuple(reversed(found))
        before = page[-1].id


def _exception_events(
    stored: list[StoredException], since: float, until: float, now: float
) -> tuple[ExceptionEvent, ...]:
    """Exceptions approved, expired or revoked in ``[since, until)``, in time order."""
    events: list[ExceptionEvent] = []

    def add(event: str, at: datetime | None, exception: StoredException) -> None:
        if at is not None and since <= at.timestamp() < min(until, now):
            events.append(
                ExceptionEvent(
                    event=event,
                    at=at.timestamp(),
                    id=exception.id,
                    rule=exception.rule,
                    scope=",".join(f"{field}={value}" for field, value in exception.scope),
                    owner=exception.owner,
                    requester=exception.requester,
                    approver=exception.approver,
                    expires_at=exception.expires_at.timestamp(),
                    uses=exception.uses,
                )
            )

    for exception in stored:
        if exception.approved_at is not None:
            add("granted", exception.approved_at, exception)
            if exception.state is ExceptionState.APPROVED:
                add("expired", exception.expires_at, exception)
        if exception.state is ExceptionState.REVOKED:
            add("revoked", exception.decided_at, exception)
    return tuple(sorted(events, key=lambda e: (e.at, e.id, e.event)))


async def _chain(config: BastionConfig, db: Database) -> ChainResult:
    """Verify the whole chain, with the signed checkpoints when their key is here."""
    checkpoints: list[tuple[int, Checkpoint | None]] = []
    note: str | None = "The whole chain was verified, not only the report's period."
    checkpoint_file = location.checkpoint_file(config)
    if checkpoint_file.exists():
        try:
            path, _ = keyring_location(config)
            if path is None or not path.is_file():
                raise BastionError("no keyring file")
            keys = public_keys(load_keyring(path, generate=False))
            checkpoints = list(read_checkpoints(checkpoint_file))
        except BastionError:
            keys = {}
            note = (
                f"{note} The signed checkpoints were not checked (no signing key here): run "
                "`bastion audit verify --checkpoints FILE --public-key PEM` for them."
            )
    else:
        keys = {}
        note = f"{note} No checkpoints file, so a truncated tail cannot be detected."
    result: Verification = await verify(AuditEventRepository(db), checkpoints, keys)
    return ChainResult(
        ok=result.ok,
        events=result.events,
        records=result.records,
        checkpoints=result.checkpoints,
        problem=None if result.problem is None else result.problem.describe(),
        note=note,
    )


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
