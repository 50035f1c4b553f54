"""``bastion admin-token``: create, list and revoke admin tokens (CONTRACT.md §1).

Only the ``admin`` role manages tokens; creating and revoking one are admin events.
With PostgreSQL and no admin token yet, the first ``admin-token create --role admin``
runs without one (bootstrap).
"""

from __future__ import annotations

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
    open_trail,
    run_async,
)
from bastion.identity.admin import (
    AdminRole,
    create_admin_token,
    revoke_admin_token,
)
from bastion.identity.issuing import MAX_FIELD_CHARS
from bastion.storage.admin_tokens import AdminTokenRepository, StoredAdminToken

SHOWN_ONCE_WARNING = (
    "This token is shown only once. Store it now (e.g. in a file readable only by you, "
    "for --admin-token-file); Bastion keeps only its hash."
)
_ROLES = click.Choice([role.value for role in AdminRole])


@click.group("admin-token")
def admin_token() -> None:
    """Create, list and revoke admin tokens (for the CLI, admin API and console)."""


@admin_token.command("create")
@config_option
@admin_token_file_option
@click.option("--role", required=True, type=_ROLES, help="What the token may do.")
@click.option("--subject", default=None, help="Who the token speaks for (default: the role).")
@json_option
def create(
    config_file: Path | None,
    admin_token_file: Path | None,
    role: str,
    subject: str | None,
    as_json: bool,
) -> None:
    """Create a token; app_owner tokens need --subject (the owner named on keys)."""
    admin_role = AdminRole(role)
    if subject is not None:
        subject = subject.strip()
        if not subject:
            raise click.BadParameter(
                "is empty; leave it out to use the role", param_hint="--subject"
            )
        if len(subject) > MAX_FIELD_CHARS:  # as a key's --owner, which an app owner must match
            raise click.BadParameter(
                f"at most {MAX_FIELD_CHARS} characters", param_hint="--subject"
            )
    if admin_role is AdminRole.APP_OWNER and not subject:
        raise click.UsageError("app_owner tokens need --subject (the owner of their apps)")
    config = load_cli_config(config_file)

    async def operation() -> tuple[StoredAdminToken, str]:
        async with open_database(config) as db:
            actor = await acting_admin(
                admin_token_file, db, allow_bootstrap=admin_role is AdminRole.ADMIN
            )
            repo = AdminTokenRepository(db)
            created = await create_admin_token(repo, subject or role, admin_role, actor=actor)
            details = {"subject": created[0].subject, "role": created[0].role}
            await open_trail(config, db).record(
                actor, "admin_token.create", created[0].token_id, details
            )
            return created

    record, plaintext = run_async(operation)
    if as_json:
        echo_json({"id": record.token_id, "token": plaintext, **_token_to_json(record)})
        return
    click.echo(f"Created admin token {record.token_id} ({record.subject}, role {record.role}).")
    click.echo("")
    click.echo(f"    {plaintext}")
    click.echo("")
    click.echo(SHOWN_ONCE_WARNING)


@admin_token.command("list")
@config_option
@admin_token_file_option
@click.option("--all", "include_all", is_flag=True, help="Include revoked tokens.")
@json_option
def list_tokens(
    config_file: Path | None, admin_token_file: Path | None, include_all: bool, as_json: bool
) -> None:
    """List admin tokens (never their secrets)."""
    config = load_cli_config(config_file)

    async def operation() -> list[StoredAdminToken]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            if actor.role is AdminRole.APP_OWNER:
                raise click.ClickException("app_owner tokens may not list admin tokens")
            return await AdminTokenRepository(db).list(include_revoked=include_all)

    tokens = run_async(operation)
    if as_json:
        echo_json([_token_to_json(token) for token in tokens])
        return
    if not tokens:
        click.echo("No admin tokens. Create one with: bastion admin-token create --role admin")
        return
    rows = [
        [t.token_id, t.subject, t.role, iso(t.created_at) or "-", iso(t.revoked_at) or "-"]
        for t in tokens
    ]
    echo_table(["ID", "SUBJECT", "ROLE", "CREATED", "REVOKED"], rows)


@admin_token.command("revoke")
@config_option
@admin_token_file_option
@click.argument("token_id")
@json_option
def revoke(
    config_file: Path | None, admin_token_file: Path | None, token_id: str, as_json: bool
) -> None:
    """Revoke a token now."""
    config = load_cli_config(config_file)

    async def operation() -> None:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            await revoke_admin_token(AdminTokenRepository(db), token_id, actor=actor)
            await open_trail(config, db).record(actor, "admin_token.revoke", token_id)

    run_async(operation)
    if as_json:
        echo_json({"id": token_id, "status": "revoked"})
    else:
        click.echo(f"Revoked admin token {token_id}.")


def _token_to_json(token: StoredAdminToken) -> dict[str, Any]:
    return {
        "id": token.token_id,
        "subject": token.subject,
        "role": token.role,
        "created_at": iso(token.created_at),
        "revoked_at": iso(token.revoked_at),
    }
