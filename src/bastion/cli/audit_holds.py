"""``bastion audit hold add|release|list``: legal holds keep the retained content of an
app, a team or one call past its retention window (docs/audit.md). Placing and
releasing a hold are admin events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bastion.cli._context import (
    READ_RECORDS,
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    echo_table,
    iso,
    json_option,
    load_cli_config,
    open_database,
    run_async,
)
from bastion.cli.audit_content import CONTENT_STEWARDS, optional_ring, record_action
from bastion.identity.admin import RECORD_READERS, require_role
from bastion.storage.audit_content import AuditContentRepository, HoldScope, LegalHold
from bastion.storage.call_records import CallRecordRepository
from bastion.storage.database import Database


@click.group("hold")
def hold() -> None:
    """Legal holds: keep the content of an app, a team or a request past retention."""


@hold.command("add")
@config_option
@admin_token_file_option
@click.option("--app", default=None, help="Hold the content of every call from this app.")
@click.option("--team", default=None, help="Hold the content of every call from this team.")
@click.option("--request", "request_id", default=None, help="Hold one call's content.")
@click.option("--reason", required=True, help="The matter, case or ticket the hold is for.")
@json_option
def hold_add(
    config_file: Path | None,
    admin_token_file: Path | None,
    app: str | None,
    team: str | None,
    request_id: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Place a legal hold; purge and erasure skip what it covers until it is released."""
    scopes: tuple[tuple[HoldScope, str | None], ...] = (
        ("app", app),
        ("team", team),
        ("request", request_id),
    )
    given = [(scope, value) for scope, value in scopes if value]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --app, --team, --request")
    scope, value = given[0]
    config = load_cli_config(config_file)

    async def operation() -> LegalHold:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, CONTENT_STEWARDS, "place legal holds")
            content = AuditContentRepository(db)
            if scope == "request" and not await _recorded(db, content, value):
                click.echo(
                    f"warning: no call record or retained content of request {value[:64]!r} (yet); "
                    "check the id (x-bastion-request-id)",
                    err=True,
                )
            placed = await content.add_hold(scope, value, reason, actor.subject, datetime.now(UTC))
            details = {"scope": scope, "value": value, "reason": placed.reason}
            await record_action(
                config, db, optional_ring(config), actor, "hold.add", placed.id, details
            )
            return placed

    placed = run_async(operation)
    if as_json:
        echo_json(_hold_json(placed))
        return
    click.echo(f"placed legal hold {placed.id} on {placed.scope} {placed.value}")


async def _recorded(db: Database, content: AuditContentRepository, request_id: str) -> bool:
    """Whether the store has the call record or the retained content of a request."""
    if await CallRecordRepository(db).get(request_id) is not None:
        return True
    return await content.for_request(request_id) is not None


@hold.command("release")
@config_option
@admin_token_file_option
@click.argument("hold_id")
@json_option
def hold_release(
    config_file: Path | None, admin_token_file: Path | None, hold_id: str, as_json: bool
) -> None:
    """Release a legal hold; expired content it kept goes at the next purge."""
    config = load_cli_config(config_file)

    async def operation() -> LegalHold:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, CONTENT_STEWARDS, "release legal holds")
            released = await AuditContentRepository(db).release_hold(
                hold_id, actor.subject, datetime.now(UTC)
            )
            details = {"scope": released.scope, "value": released.value}
            ring = optional_ring(config)
            await record_action(config, db, ring, actor, "hold.release", hold_id, details)
            return released

    released = run_async(operation)
    if as_json:
        echo_json(_hold_json(released))
        return
    click.echo(f"released legal hold {released.id} on {released.scope} {released.value}")


@hold.command("list")
@config_option
@admin_token_file_option
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@json_option
def hold_list(
    config_file: Path | None, admin_token_file: Path | None, include_released: bool, as_json: bool
) -> None:
    """List legal holds (active ones unless --all)."""
    config = load_cli_config(config_file)

    async def operation() -> list[LegalHold]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, RECORD_READERS, READ_RECORDS)
            return await AuditContentRepository(db).holds(include_released=include_released)

    holds = run_async(operation)
    if as_json:
        echo_json([_hold_json(h) for h in holds])
        return
    if not holds:
        click.echo("no legal holds")
        return
    rows = [
        [
            h.id,
            h.scope,
            h.value,
            "active" if h.active else f"released {iso(h.released_at)}",
            h.created_by,
            iso(h.created_at) or "",
            h.reason,
        ]
        for h in holds
    ]
    echo_table(["ID", "SCOPE", "VALUE", "STATE", "BY", "SINCE", "REASON"], rows)


def _hold_json(h: LegalHold) -> dict[str, Any]:
    return {
        "id": h.id,
        "scope": h.scope,
        "value": h.value,
        "reason": h.reason,
        "created_by": h.created_by,
        "created_at": iso(h.created_at),
        "active": h.active,
        "released_by": h.released_by,
        "released_at": iso(h.released_at),
    }
