"""``bastion policy activate | rollback | history | show``: the policy store's lifecycle.

``activate`` checks the file against the config (as the gateway will compile it), then
uploads it and makes it the active version; running gateways load it from the change
feed within seconds. ``activate`` and ``rollback`` change governed state and act as an
admin identity with the ``admin`` or ``security`` role (CONTRACT.md §1); ``history``
and ``show`` need any admin identity. Registered on the ``policy`` group by
``bastion.cli.policy``.
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
    open_governance,
    run_async,
)
from bastion.errors import ConfigError, NotFound
from bastion.pipeline.guardrails import policy_from_text
from bastion.policy.loader import read_policy_text
from bastion.storage.policies import PolicyActivation, PolicyRepository, PolicyVersion

_PICKUP = "running gateways load it within a few seconds"


@click.command("activate")
@config_option
@admin_token_file_option
@json_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def activate(
    config_file: Path | None, admin_token_file: Path | None, as_json: bool, file: Path
) -> None:
    """Check FILE against the config, upload it and make it the active policy."""
    config = load_cli_config(config_file)
    try:
        text = read_policy_text(file)
        policy_from_text(config, text, str(file))  # errors name the file as given
    except ConfigError as exc:
        if as_json:
            echo_json({"ok": False, "error": str(exc)})
        else:
            click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc

    source = str(file.resolve())

    async def operation() -> tuple[PolicyVersion, PolicyActivation | None]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            return await open_governance(config, db).activate_policy(actor, text, source=source)

    version, activation = run_async(operation)
    if as_json:
        echo_json({"ok": True, "changed": activation is not None, **_version_json(version)})
    elif activation is None:
        click.echo(f"{version.version} (version {version.id}) is already the active policy.")
    else:
        click.echo(f"Activated {version.version} (version {version.id}); {_PICKUP}.")


@click.command("rollback")
@config_option
@admin_token_file_option
@json_option
def rollback(config_file: Path | None, admin_token_file: Path | None, as_json: bool) -> None:
    """Activate again the policy version that was active before the current one."""
    config = load_cli_config(config_file)

    async def operation() -> tuple[PolicyActivation | None, PolicyActivation]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            return await open_governance(config, db).rollback_policy(actor)

    before, activation = run_async(operation)
    if as_json:
        echo_json({"ok": True, **_activation_json(activation)})
        return
    was = f"; it was {before.version.version}" if before is not None else ""
    click.echo(
        f"Rolled back to {activation.version.version} (version {activation.version.id}){was}; "
        f"{_PICKUP}."
    )


@click.command("history")
@config_option
@admin_token_file_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many."
)
@json_option
def history(
    config_file: Path | None, admin_token_file: Path | None, limit: int, as_json: bool
) -> None:
    """List policy activations, newest first: when, by whom, why, which version."""
    config = load_cli_config(config_file)

    async def operation() -> list[PolicyActivation]:
        async with open_database(config) as db:
            await acting_admin(admin_token_file, db)
            return await PolicyRepository(db).history(limit)

    found = run_async(operation)
    if as_json:
        echo_json([_activation_json(activation) for activation in found])
        return
    if not found:
        click.echo("No policy was ever activated. Activate one with: bastion policy activate FILE")
        return
    rows = [
        [
            iso(activation.activated_at) or "-",
            activation.activated_by,
            activation.reason.value,
            str(activation.version.id),
            activation.version.version + ("  (active)" if index == 0 else ""),
        ]
        for index, activation in enumerate(found)
    ]
    echo_table(["WHEN", "BY", "REASON", "ID", "VERSION"], rows)


@click.command("show")
@config_option
@admin_token_file_option
@json_option
@click.argument("ref", required=False)
def show(
    config_file: Path | None, admin_token_file: Path | None, as_json: bool, ref: str | None
) -> None:
    """Print the active policy's content, or REF's (a version id, a digest prefix of 8+
    hex digits, or name@label+digest)."""
    config = load_cli_config(config_file)

    async def operation() -> tuple[PolicyVersion, PolicyActivation | None]:
        async with open_database(config) as db:
            await acting_admin(admin_token_file, db)
            repo = PolicyRepository(db)
            active = await repo.active()
            if ref is not None:
                return await repo.get(ref), active
            if active is None:
                raise NotFound(
                    "no policy is active; activate one with `bastion policy activate FILE`",
                    code="policy_not_found",
                )
            return active.version, active

    version, active = run_async(operation)
    if as_json:
        is_active = active is not None and active.version.id == version.id
        echo_json({**_version_json(version), "active": is_active, "content": version.content})
        return
    click.echo(version.content, nl=not version.content.endswith("\n"))


def _version_json(version: PolicyVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "version": version.version,
        "name": version.name,
        "label": version.label,
        "digest": version.digest,
        "source": version.source,
        "uploaded_by": version.uploaded_by,
        "uploaded_at": iso(version.uploaded_at),
    }


def _activation_json(activation: PolicyActivation) -> dict[str, Any]:
    return {
        "activation": activation.id,
        "activated_at": iso(activation.activated_at),
        "activated_by": activation.activated_by,
        "reason": activation.reason.value,
        **_version_json(activation.version),
    }
