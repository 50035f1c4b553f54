"""``bastion exceptions``: request, approve, deny, revoke, list and show policy exceptions.

Every command acts as an admin identity (CONTRACT.md §1): requester and approver are
token subjects, never names typed on the command line. Roles: ``admin`` and
``security`` decide; ``app_owner`` may request for its own apps (and withdraw its own
request with ``deny``) and sees only its apps' exceptions; ``auditor`` may only read.
The approver must differ from the requester, also for ``local-admin`` (the store
enforces it): on an embedded store, approve with a token of a second subject
(``bastion admin-token create --role security --subject NAME``). The rules, the admin
chain events and the webhook live in ``pipeline.governance``, shared with the admin API.

When ``policy.exception_webhook`` is set, each change is POSTed there as JSON; a webhook
failure is reported on stderr and does not undo the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    open_governance,
    parse_expiry,
    printable,
    run_async,
)
from bastion.errors import InvalidRequest, PermissionDenied
from bastion.identity.admin import LOCAL_ADMIN_SUBJECT
from bastion.model.exceptions import ExceptionState
from bastion.pipeline.governance import RULE_NOT_WAIVABLE
from bastion.storage.exceptions import StoredException

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
            try:
                return await open_governance(config, db).request_exception(
                    actor,
                    rule=rule,
                    scope=scope,
                    justification=justification,
                    expires_at=expires_at,
                    owner=owner,
                )
            except InvalidRequest as exc:
                if exc.code == RULE_NOT_WAIVABLE:  # a --rule no exception can waive
                    raise click.BadParameter(exc.message, param_hint="--rule") from None
                raise

    stored = run_async(operation)
    if as_json:
        echo_json(_to_json(stored, datetime.now(UTC)))
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
@click.option(
    "--expires",
    default=None,
    help="End it sooner or later than requested: ISO-8601 date/time or duration (7d, 12h); "
    "default: the requested expiry.",
)
@json_option
def approve(
    config_file: Path | None,
    admin_token_file: Path | None,
    exception_id: str,
    note: str | None,
    expires: str | None,
    as_json: bool,
) -> None:
    """Approve a requested exception (not your own); gateways apply it within seconds."""
    expires_at = None if expires is None else parse_expiry(expires, now=datetime.now(UTC))
    stored = _decide(config_file, admin_token_file, exception_id, "approve", note, expires_at)
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
            actor = await acting_admin(admin_token_file, db)
            return await open_governance(config, db).list_exceptions(
                actor,
                state=ExceptionState(state) if state else None,
                app=app,
                rule=rule,
                now=now,
            )

    found = run_async(operation)
    if as_json:
        echo_json([_to_json(stored, now) for stored in found])
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
            actor = await acting_admin(admin_token_file, db)
            return await open_governance(config, db).get_exception(actor, exception_id)

    data = _to_json(run_async(operation), datetime.now(UTC))
    if as_json:
        echo_json(data)
        return
    for name, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        click.echo(f"{name + ':':<15} {'-' if value is None else printable(str(value))}")


def _decide(
    config_file: Path | None,
    admin_token_file: Path | None,
    exception_id: str,
    verb: str,
    note: str | None,
    expires_at: datetime | None = None,
) -> StoredException:
    config = load_cli_config(config_file)

    async def operation() -> StoredException:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            governance = open_governance(config, db)
            if verb == "approve":
                try:
                    return await governance.approve_exception(
                        actor, exception_id, note=note, expires_at=expires_at
                    )
                except PermissionDenied as exc:
                    if exc.code == "approver_is_requester" and actor.subject == LOCAL_ADMIN_SUBJECT:
                        exc.message += LOCAL_ADMIN_HINT
                    raise
            if verb == "deny":
                return await governance.deny_exception(actor, exception_id, note=note)
            return await governance.revoke_exception(actor, exception_id, note=note)

    return run_async(operation)


def _print_decision(stored: StoredException, as_json: bool, verb: str, effect: str) -> None:
    if as_json:
        echo_json(_to_json(stored, datetime.now(UTC)))
        return
    until = f", until {iso(stored.expires_at)}" if stored.state is ExceptionState.APPROVED else ""
    click.echo(
        f"{verb} exception {stored.id} (rule {stored.rule} for {_scope_text(stored)}{until}); "
        f"{effect}."
    )


def _scope_text(stored: StoredException) -> str:
    return ",".join(f"{field}={value}" for field, value in stored.scope)


def _to_json(stored: StoredException, now: datetime) -> dict[str, Any]:
    """An exception as the admin API and the webhook show it (imported here: the
    webhook's module loads the HTTP client, needed only when a webhook is configured)."""
    from bastion.pipeline.exception_webhook import exception_to_json

    return exception_to_json(stored, now)
