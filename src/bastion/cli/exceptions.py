"""``bastion exceptions``: request, approve, deny, revoke, list and show policy exceptions.

Every command acts as an admin identity (CONTRACT.md §1): requester and approver are
token subjects, never names typed on the command line. Roles: ``admin`` and
``security`` decide; ``app_owner`` may request (and withdraw its own request with
``deny``); ``auditor`` may only read. The approver must differ from the requester, also
for ``local-admin`` (the store enforces it): on an embedded store, approve with a token
of a second subject (``bastion admin-token create --role security --subject NAME``).

When ``policy.exception_webhook`` is set, each change is POSTed there as JSON; a webhook
failure is reported on stderr and does not undo the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import click

from bastion.cli._context import (
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    echo_table,
    iso,
    json_option,
    load_cli_config,
    open_database,
    parse_expiry,
    require_role,
    run_async,
)
from bastion.config import BastionConfig
from bastion.errors import NotFound, PermissionDenied
from bastion.identity.admin import LOCAL_ADMIN_SUBJECT, AdminIdentity, AdminRole
from bastion.model.exceptions import ExceptionState
from bastion.storage.exceptions import ExceptionRepository, StoredException

WEBHOOK_TIMEOUT_S = 5.0
_DECIDERS = (AdminRole.ADMIN, AdminRole.SECURITY)
_REQUESTERS = (AdminRole.ADMIN, AdminRole.SECURITY, AdminRole.APP_OWNER)
LOCAL_ADMIN_HINT = (
    " On this embedded store, create a token for a second person and approve with it: "
    "bastion admin-token create --role security --subject NAME, then set "
    "BASTION_ADMIN_TOKEN (or pass --admin-token-file)."
)
note_option = click.option("--note", default=None, help="Why (kept with the decision).")


@click.group("exceptions")
def exceptions() -> None:
    """Request, approve, deny, revoke and list policy exceptions."""


@exceptions.command("request")
@config_option
@admin_token_file_option
@click.option("--rule", required=True, help="Id of the rule to waive (as in x-bastion-rules).")
@click.option("--app", default=None, help="Scope: calls from this app.")
@click.option("--team", default=None, help="Scope: calls from this team.")
@click.option("--user", default=None, help="Scope: calls for this user.")
@click.option("--key", "key_id", default=None, help="Scope: calls with this key id.")
@click.option("--justification", required=True, help="Why the exception is needed.")
@click.option(
    "--expires", required=True, help="When it ends: ISO-8601 date/time or duration (30d, 12h)."
)
@click.option("--owner", default=None, help="Who answers for it (default: the requester).")
@json_option
def request(
    config_file: Path | None,
    admin_token_file: Path | None,
    rule: str,
    app: str | None,
    team: str | None,
    user: str | None,
    key_id: str | None,
    justification: str,
    expires: str,
    owner: str | None,
    as_json: bool,
) -> None:
    """Ask for an exception; another admin or security subject approves it.

    Every scope option given must match the caller (--app A --team T: that team's calls
    from that app); at least one is required.
    """
    config = load_cli_config(config_file)
    scope = {
        name: value
        for name, value in (("app", app), ("team", team), ("user", user), ("key_id", key_id))
        if value is not None
    }
    if not scope:
        raise click.UsageError("give the scope: at least one of --app, --team, --user, --key")
    now = datetime.now(UTC)
    expires_at = parse_expiry(expires, now=now)

    async def operation() -> StoredException:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, _REQUESTERS, "request exceptions")
            stored = await ExceptionRepository(db).request(
                rule=rule,
                scope=scope,
                justification=justification,
                expires_at=expires_at,
                requester=actor.subject,
                owner=owner,
            )
        await _notify(config, "requested", actor, stored)
        return stored

    stored = run_async(operation)
    if as_json:
        echo_json(exception_to_json(stored, datetime.now(UTC)))
        return
    click.echo(
        f"Requested exception {stored.id} to rule {stored.rule} for {_scope_text(stored)}, "
        f"until {iso(stored.expires_at)}."
    )
    click.echo(
        "Someone other than you approves it with: "
        f"bastion exceptions approve {stored.id} (with their own admin token)."
    )


@exceptions.command("approve")
@config_option
@admin_token_file_option
@click.argument("exception_id")
@note_option
@json_option
def approve(
    config_file: Path | None,
    admin_token_file: Path | None,
    exception_id: str,
    note: str | None,
    as_json: bool,
) -> None:
    """Approve a requested exception (not your own); gateways apply it within seconds."""
    stored = _decide(config_file, admin_token_file, exception_id, "approve", note)
    _print_decision(stored, as_json, "Approved", "gateways apply it within a few seconds")


@exceptions.command("deny")
@config_option
@admin_token_file_option
@click.argument("exception_id")
@note_option
@json_option
def deny(
    config_file: Path | None,
    admin_token_file: Path | None,
    exception_id: str,
    note: str | None,
    as_json: bool,
) -> None:
    """Deny a requested exception (its requester may deny it to withdraw it)."""
    stored = _decide(config_file, admin_token_file, exception_id, "deny", note)
    _print_decision(stored, as_json, "Denied", "it will never apply")


@exceptions.command("revoke")
@config_option
@admin_token_file_option
@click.argument("exception_id")
@note_option
@json_option
def revoke(
    config_file: Path | None,
    admin_token_file: Path | None,
    exception_id: str,
    note: str | None,
    as_json: bool,
) -> None:
    """End an approved exception now; gateways stop applying it within seconds."""
    stored = _decide(config_file, admin_token_file, exception_id, "revoke", note)
    _print_decision(stored, as_json, "Revoked", "gateways stop applying it within a few seconds")


@exceptions.command("list")
@config_option
@admin_token_file_option
@click.option(
    "--state",
    type=click.Choice([state.value for state in ExceptionState]),
    default=None,
    help="Only exceptions in this state now.",
)
@click.option("--app", default=None, help="Only exceptions scoped to this app.")
@click.option("--rule", default=None, help="Only exceptions for this rule.")
@json_option
def list_exceptions(
    config_file: Path | None,
    admin_token_file: Path | None,
    state: str | None,
    app: str | None,
    rule: str | None,
    as_json: bool,
) -> None:
    """List exceptions, oldest first (justifications only in --json and show)."""
    config = load_cli_config(config_file)
    now = datetime.now(UTC)

    async def operation() -> list[StoredException]:
        async with open_database(config) as db:
            await acting_admin(admin_token_file, db)
            return await ExceptionRepository(db).list(
                state=ExceptionState(state) if state else None, app=app, rule=rule, now=now
            )

    found = run_async(operation)
    if as_json:
        echo_json([exception_to_json(stored, now) for stored in found])
        return
    if not found:
        click.echo("No exceptions. Request one with: bastion exceptions request --rule RULE ...")
        return
    headers = ["ID", "RULE", "SCOPE", "STATE", "EXPIRES", "REQUESTER", "APPROVER", "USES"]
    rows = [
        [
            stored.id,
            stored.rule,
            _scope_text(stored),
            stored.status(now).value,
            iso(stored.expires_at) or "-",
            stored.requester,
            stored.approver or "-",
            str(stored.uses),
        ]
        for stored in found
    ]
    echo_table(headers, rows)


@exceptions.command("show")
@config_option
@admin_token_file_option
@click.argument("exception_id")
@json_option
def show(
    config_file: Path | None, admin_token_file: Path | None, exception_id: str, as_json: bool
) -> None:
    """Show one exception with its justification and decisions."""
    config = load_cli_config(config_file)

    async def operation() -> StoredException:
        async with open_database(config) as db:
            await acting_admin(admin_token_file, db)
            stored = await ExceptionRepository(db).get(exception_id)
        if stored is None:
            raise NotFound(f"no exception with id {exception_id!r}", code="exception_not_found")
        return stored

    data = exception_to_json(run_async(operation), datetime.now(UTC))
    if as_json:
        echo_json(data)
        return
    for name, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        click.echo(f"{name + ':':<15} {'-' if value is None else value}")


def exception_to_json(stored: StoredException, now: datetime) -> dict[str, Any]:
    """An exception for JSON output; ``state`` is the state at ``now``."""
    return {
        "id": stored.id,
        "rule": stored.rule,
        "scope": dict(stored.scope),
        "state": stored.status(now).value,
        "expires_at": iso(stored.expires_at),
        "justification": stored.justification,
        "owner": stored.owner,
        "requester": stored.requester,
        "approver": stored.approver,
        "approved_at": iso(stored.approved_at),
        "decided_by": stored.decided_by,
        "decided_at": iso(stored.decided_at),
        "decision_note": stored.decision_note,
        "created_at": iso(stored.created_at),
        "uses": stored.uses,
        "last_used_at": iso(stored.last_used_at),
    }


def _decide(
    config_file: Path | None,
    admin_token_file: Path | None,
    exception_id: str,
    verb: str,
    note: str | None,
) -> StoredException:
    config = load_cli_config(config_file)

    async def operation() -> StoredException:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            repo = ExceptionRepository(db)
            if verb == "approve":
                require_role(actor, _DECIDERS, "approve exceptions")
                try:
                    stored = await repo.approve(exception_id, approver=actor.subject, note=note)
                except PermissionDenied as exc:
                    if actor.subject == LOCAL_ADMIN_SUBJECT:
                        exc.message += LOCAL_ADMIN_HINT
                    raise
            elif verb == "deny":
                if actor.role not in _DECIDERS:  # a requester may withdraw their own
                    current = await repo.get(exception_id)
                    if current is None or current.requester != actor.subject:
                        require_role(actor, _DECIDERS, "deny others' exceptions")
                stored = await repo.deny(exception_id, decided_by=actor.subject, note=note)
            else:
                require_role(actor, _DECIDERS, "revoke exceptions")
                stored = await repo.revoke(exception_id, decided_by=actor.subject, note=note)
        await _notify(config, stored.state.value, actor, stored)
        return stored

    return run_async(operation)


def _print_decision(stored: StoredException, as_json: bool, verb: str, effect: str) -> None:
    if as_json:
        echo_json(exception_to_json(stored, datetime.now(UTC)))
        return
    until = f", until {iso(stored.expires_at)}" if stored.state is ExceptionState.APPROVED else ""
    click.echo(
        f"{verb} exception {stored.id} (rule {stored.rule} for {_scope_text(stored)}{until}); "
        f"{effect}."
    )


def _scope_text(stored: StoredException) -> str:
    return ",".join(f"{field}={value}" for field, value in stored.scope)


async def _notify(
    config: BastionConfig, event: str, actor: AdminIdentity, stored: StoredException
) -> None:
    """POST the change to ``policy.exception_webhook``; failures warn, never raise."""
    secret_url = config.policy.exception_webhook
    if secret_url is None:
        return
    url = secret_url.get_secret_value()
    payload = {
        "event": f"exception.{event}",
        "actor": actor.subject,
        "exception": exception_to_json(stored, datetime.now(UTC)),
    }
    # The URL may carry a token (chat webhooks): messages name its host only.
    host = urlsplit(url).hostname or "?"
    timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=payload) as response,
        ):
            if response.status >= 300:
                click.echo(
                    f"warning: exception webhook at {host} answered {response.status}; "
                    "the change is made",
                    err=True,
                )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        click.echo(
            f"warning: exception webhook at {host} failed ({type(exc).__name__}); "
            "the change is made",
            err=True,
        )
