"""``bastion keys``: create, list, revoke and rotate gateway keys (CONTRACT.md §1).

A key's plaintext is printed once, at creation or rotation; the store keeps its hash.
Listings never show secrets or hashes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    parse_duration,
    parse_expiry,
    run_async,
    split_list,
)

if TYPE_CHECKING:
    from bastion.identity.issuing import IssuedKey
    from bastion.storage.keys import StoredKey

SHOWN_ONCE_WARNING = (
    "This key is shown only once. Store it now (e.g. in your secret manager); "
    "Bastion keeps only its hash and cannot show it again."
)


@click.group("keys")
def keys() -> None:
    """Create, list, revoke and rotate gateway keys."""


@keys.command("create")
@config_option
@admin_token_file_option
@click.option("--name", required=True, help="What the key is for (shown in reports).")
@click.option("--user", default=None, help="The person the key belongs to.")
@click.option("--app", default=None, help="The application using the key.")
@click.option("--team", default=None, help="Team or department.")
@click.option("--env", "--environment", "environment", default="dev", show_default=True)
@click.option("--role", "roles", multiple=True, help="Principal role (repeatable).")
@click.option("--owner", default=None, help="Admin subject that owns the app.")
@click.option(
    "--models",
    multiple=True,
    help="Allowed models, comma-separated and repeatable; * = every configured model.",
)
@click.option("--expires", default=None, help="ISO-8601 date/time or duration (90d, 24h).")
@click.option("--trust-end-user", is_flag=True, help="Accept end-user ids sent by the app.")
@json_option
def create(
    config_file: Path | None,
    admin_token_file: Path | None,
    name: str,
    user: str | None,
    app: str | None,
    team: str | None,
    environment: str,
    roles: tuple[str, ...],
    owner: str | None,
    models: tuple[str, ...],
    expires: str | None,
    trust_end_user: bool,
    as_json: bool,
) -> None:
    """Create a key; only --name is required."""
    from bastion.identity.issuing import KeySpec

    config = load_cli_config(config_file)
    allowed = _models_from(models)
    unknown = [m for m in allowed if m != "*" and config.models and m not in config.models]
    if unknown:
        click.echo(f"warning: not configured models: {', '.join(unknown)}", err=True)
    try:
        spec = KeySpec(
            name=name,
            environment=environment,
            user=user,
            app=app,
            team=team,
            roles=split_list(roles),
            owner=owner,
            models=allowed,
            trust_end_user=trust_end_user,
            expires_at=parse_expiry(expires, now=datetime.now(UTC)) if expires else None,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    async def operation() -> IssuedKey:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            return await open_governance(config, db).create_key(actor, spec)

    issued = run_async(operation)
    _print_issued(issued, as_json, verb="Created")


@keys.command("list")
@config_option
@admin_token_file_option
@click.option("--all", "include_all", is_flag=True, help="Include revoked and replaced keys.")
@json_option
def list_keys(
    config_file: Path | None, admin_token_file: Path | None, include_all: bool, as_json: bool
) -> None:
    """List keys (never their secrets)."""
    config = load_cli_config(config_file)

    async def operation() -> list[StoredKey]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            return await open_governance(config, db).list_keys(actor, include_revoked=include_all)

    stored_keys = run_async(operation)
    now = datetime.now(UTC)
    if as_json:
        echo_json([key_to_json(key, now) for key in stored_keys])
        return
    if not stored_keys:
        click.echo("No keys. Create one with: bastion keys create --name NAME")
        return
    headers = ["ID", "NAME", "ENV", "APP", "TEAM", "OWNER", "MODELS", "STATUS", "EXPIRES"]
    rows = [
        [
            key.key_id,
            key.name,
            key.environment,
            key.app or "-",
            key.team or "-",
            key.owner or "-",
            ",".join(key.models),
            key.status(now).value,
            iso(_stops_at(key)) or "-",
        ]
        for key in stored_keys
    ]
    echo_table(headers, rows)


def _stops_at(key: StoredKey) -> datetime | None:
    """When the key stops (or stopped) working: its expiry, the end of its grace after a
    rotation, or its revocation, whichever comes first."""
    ends = [at for at in (key.expires_at, key.grace_until, key.revoked_at) if at is not None]
    return min(ends) if ends else None


@keys.command("revoke")
@config_option
@admin_token_file_option
@click.argument("key_id")
@json_option
def revoke(
    config_file: Path | None, admin_token_file: Path | None, key_id: str, as_json: bool
) -> None:
    """Revoke a key now (running gateways stop accepting it within about a second)."""
    config = load_cli_config(config_file)

    async def operation() -> None:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            await open_governance(config, db).revoke_key(actor, key_id)

    run_async(operation)
    if as_json:
        echo_json({"id": key_id, "status": "revoked"})
    else:
        click.echo(f"Revoked key {key_id}.")


@keys.command("rotate")
@config_option
@admin_token_file_option
@click.argument("key_id")
@click.option(
    "--grace",
    default="0",
    show_default=True,
    help="How long the old key keeps working (24h, 7d; 0: it stops now).",
)
@json_option
def rotate(
    config_file: Path | None,
    admin_token_file: Path | None,
    key_id: str,
    grace: str,
    as_json: bool,
) -> None:
    """Replace a key with a new secret; same principal, models and expiry."""
    config = load_cli_config(config_file)
    grace_period = parse_duration(grace, option="--grace", zero=True)

    async def operation() -> IssuedKey:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            governance = open_governance(config, db)
            return await governance.rotate_key(actor, key_id, grace=grace_period)

    issued = run_async(operation)
    _print_issued(
        issued, as_json, verb="Rotated", replaces=key_id, old_until=issued.old_valid_until
    )


def key_to_json(key: StoredKey, now: datetime) -> dict[str, Any]:
    """A key's metadata for JSON output (no secret, no hash)."""
    return {
        "id": key.key_id,
        "name": key.name,
        "user": key.user,
        "app": key.app,
        "team": key.team,
        "environment": key.environment,
        "roles": list(key.roles),
        "owner": key.owner,
        "models": list(key.models),
        "trust_end_user": key.trust_end_user,
        "status": key.status(now).value,
        "created_at": iso(key.created_at),
        "created_by": key.created_by,
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "replaced_by": key.replaced_by,
        "grace_until": iso(key.grace_until),
    }


def _models_from(values: tuple[str, ...]) -> tuple[str, ...]:
    models = split_list(values)
    if values and not models:  # --models "$UNSET": not a licence for every model
        raise click.BadParameter(
            "names no model; give model names, or * for every one", param_hint="--models"
        )
    return ("*",) if not models or "*" in models else models


def _print_issued(
    issued: IssuedKey,
    as_json: bool,
    *,
    verb: str,
    replaces: str | None = None,
    old_until: datetime | None = None,
) -> None:
    stored = issued.stored
    if as_json:
        payload = {"id": stored.key_id, "key": issued.plaintext}
        payload_meta = key_to_json(stored, datetime.now(UTC))
        payload_meta.pop("id")
        if replaces is not None:
            payload_meta["replaces"] = replaces
            payload_meta["old_key_valid_until"] = iso(old_until)
        echo_json({**payload, **payload_meta})
        return
    click.echo(f"{verb} key {stored.key_id} ({stored.name}, env {stored.environment}).")
    if replaces is not None:
        ending = "now" if old_until is None else f"at {iso(old_until)}"
        click.echo(f"The old key {replaces} stops working {ending}.")
    click.echo("")
    click.echo(f"    {issued.plaintext}")
    click.echo("")
    click.echo(SHOWN_ONCE_WARNING)
