"""``bastion policy replay CANDIDATE``: what a candidate policy would have changed.

Reads the call records of a time window from the store, re-decides each from its
recorded facts (no prompt text is needed or kept) and prints what would change, by
app, team and rule, with example request ids. Calls the candidate cannot fully
re-decide are counted as incomplete (``bastion.policy.replay``). Reading records needs
an admin identity with the ``admin``, ``security`` or ``auditor`` role. Exit codes: 0
the replay ran (whatever changed); 1 the candidate is invalid or the store failed; 2
usage error.
"""

from __future__ import annotations

import sys
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path

import click

from bastion.cli._context import (
    READ_RECORDS,
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    iso,
    json_option,
    load_cli_config,
    open_database,
    parse_duration,
    run_async,
)
from bastion.errors import ConfigError
from bastion.identity.admin import RECORD_READERS, require_role
from bastion.pipeline.guardrails import active_classes, load_configured_policy
from bastion.policy.replay import Replay, ReplayReport, class_set_of
from bastion.storage.call_records import CallRecordRepository
from bastion.storage.class_sets import ClassSetRepository

PAGE_SIZE = 500


@click.command("replay")
@config_option
@admin_token_file_option
@json_option
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="Start of the window: a duration back from now (24h, 7d) or an ISO-8601 time.",
)
@click.option(
    "--until",
    default=None,
    help="End of the window (exclusive): a duration back from now or an ISO-8601 time; "
    "default now.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Replay at most N calls (the window's oldest first).",
)
@click.argument("candidate", type=click.Path(dir_okay=False, path_type=Path))
def replay(
    config_file: Path | None,
    admin_token_file: Path | None,
    as_json: bool,
    since: str,
    until: str | None,
    limit: int | None,
    candidate: Path,
) -> None:
    """Re-decide the recorded calls of a window under CANDIDATE; show what would change.

    Calls are rebuilt from their audit facts (caller, model, classes found and where,
    tools, the exception named) and decided with CANDIDATE's static exceptions, as of
    when each call was made. A call is incomplete when CANDIDATE acts on classes the
    gateway did not look for then, or when it named or used an exception CANDIDATE does
    not declare.
    """
    now = datetime.now(UTC)
    start = _moment(since, now, "--since")
    end = _moment(until, now, "--until") if until is not None else None
    if end is not None and end <= start:
        raise click.BadParameter(f"{until!r} is not after --since {since!r}", param_hint="--until")
    config = load_cli_config(config_file)
    try:
        policy = load_configured_policy(config, candidate)
    except ConfigError as exc:
        if as_json:
            echo_json({"ok": False, "error": str(exc)})
        else:
            click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    run = Replay(policy, registry=active_classes(config))

    async def operation() -> ReplayReport:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, RECORD_READERS, READ_RECORDS)
            records = CallRecordRepository(db)
            sets = ClassSetRepository(db)
            until_ts = end.timestamp() if end is not None else None
            total = await records.count_between(start.timestamp(), until_ts)
            if limit is not None:
                total = min(total, limit)
            known: dict[str, frozenset[str]] = {}
            looked_up: set[str] = set()
            done = 0
            pages = records.pages_between(start.timestamp(), until_ts, page_size=PAGE_SIZE)
            with click.progressbar(
                length=total,
                label=f"replaying {total} call{'' if total == 1 else 's'}",
                file=sys.stderr,
            ) as bar:
                async with aclosing(pages):
                    async for page in pages:
                        if limit is not None:
                            page = page[: limit - done]
                        digests = {
                            d
                            for r in page
                            if isinstance(d := r.request_facts.get("class_set"), str)
                            and d not in looked_up
                        }
                        if digests:
                            known.update(await sets.get_many(digests))
                            looked_up.update(digests)
                        for record in page:
                            run.add(record, class_set_of(record, known))
                        done += len(page)
                        bar.update(len(page))
                        if limit is not None and done >= limit:
                            break
        return run.report()

    report = run_async(operation)
    window = {"since": iso(start), "until": iso(end)}
    if as_json:
        echo_json({"ok": True, "file": str(candidate), "window": window, **report.to_json()})
        return
    _print_report(report, candidate, window)


def _moment(text: str, now: datetime, option: str) -> datetime:
    """A duration back from ``now`` (``7d``) or an ISO-8601 time (UTC unless given)."""
    try:
        return now - parse_duration(text, option=option)
    except click.BadParameter:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is neither a duration back from now (24h, 7d) nor an ISO-8601 "
            "time (2027-01-01, 2027-01-01T12:00:00Z)",
            param_hint=option,
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _print_report(report: ReplayReport, candidate: Path, window: dict[str, str | None]) -> None:
    click.echo(f"candidate {report.candidate} ({candidate})")
    click.echo(f"window {window['since']} .. {window['until'] or 'now'}")
    skipped = ", ".join(f"{n} {reason}" for reason, n in report.skipped.items())
    click.echo(
        f"calls: {report.replayed} replayed, {report.unchanged} unchanged, "
        f"{report.changed} changed, {report.incomplete} incomplete"
        + (f" (skipped: {skipped})" if skipped else "")
    )
    if not report.replayed:
        click.echo("no decided call in this window")
        return
    if report.changes:
        click.echo("changes by app / team / rule:")
    for group in report.changes:
        transitions = ", ".join(f"{t} {n}" for t, n in group.transitions.most_common())
        click.echo(
            f"  {_who(group.app, group.team)} / {group.rule}: {_calls(group.count)} ({transitions})"
        )
        click.echo(f"      e.g. {', '.join(group.examples)}")
        if group.incomplete:
            missing = ", ".join(sorted(group.missing_classes))
            click.echo(
                f"      incomplete: {group.incomplete}"
                + (f" (not looked for: {missing})" if missing else "")
            )
    if not report.changes:
        click.echo("no change")
    if report.incomplete_groups:
        click.echo(
            "incomplete (the candidate acts on classes these calls were not scanned for, "
            "or on exceptions the records do not carry):"
        )
    for gap in report.incomplete_groups:
        reasons = []
        if gap.missing_classes:
            reasons.append(
                "not looked for: "
                + ", ".join(f"{c} ({n})" for c, n in sorted(gap.missing_classes.items()))
            )
        if gap.unknown_class_set:
            reasons.append(f"class set not recorded: {gap.unknown_class_set}")
        if gap.unknown_exceptions:
            names = ", ".join(sorted(gap.unknown_exceptions))
            reasons.append(f"exceptions not in the facts: {names}")
        click.echo(
            f"  {_who(gap.app, gap.team)}: {_calls(gap.count)}, {gap.changed} changed; "
            + "; ".join(reasons)
        )
        click.echo(f"      e.g. {', '.join(gap.examples)}")


def _who(app: str | None, team: str | None) -> str:
    return f"{app or '(no app)'} / {team or '(no team)'}"


def _calls(count: int) -> str:
    return f"{count} call" if count == 1 else f"{count} calls"
