"""``bastion audit``: verify the tamper-evident audit chain; show, purge, hold and erase
retained content (``cli.audit_content``, ``cli.audit_holds``); search and export the
call records (``cli.audit_search``)."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bastion.audit import location
from bastion.audit.checkpoints import Checkpoint, load_public_key, public_keys, read_checkpoints
from bastion.audit.verify import Verification, verify
from bastion.cli._context import (
    config_option,
    echo_json,
    json_option,
    load_cli_config,
    open_database,
    run_async,
)
from bastion.cli.audit_content import erase_subject, purge, show
from bastion.cli.audit_exporters import exporters
from bastion.cli.audit_holds import hold
from bastion.cli.audit_search import export, search
from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import load_keyring
from bastion.crypto.location import keyring_location
from bastion.errors import BastionError
from bastion.storage.audit_events import AuditEventRepository


@click.group("audit")
def audit() -> None:
    """Inspect the audit trail."""


audit.add_command(show)
audit.add_command(purge)
audit.add_command(hold)
audit.add_command(erase_subject)
audit.add_command(search)
audit.add_command(export)
audit.add_command(exporters)


@audit.command("verify")
@config_option
@click.option(
    "--checkpoints",
    "checkpoints_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Signed checkpoints file (default: audit.checkpoint_file, when it exists).",
)
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="PEM from `bastion crypto export-public` (default: the keyring's signing keys).",
)
@json_option
def verify_command(
    config_file: Path | None,
    checkpoints_file: Path | None,
    public_key_file: Path | None,
    as_json: bool,
) -> None:
    """Check the hash chain, the call records and the checkpoints; exit 1 at the first
    bad record (modified, deleted, reordered, or a truncated tail)."""
    config = load_cli_config(config_file)
    if checkpoints_file is None:
        default = location.checkpoint_file(config)
        checkpoints_file = default if default.exists() else None
    checkpoints: list[tuple[int, Checkpoint | None]] = []
    if checkpoints_file is not None:
        checkpoints = list(read_checkpoints(checkpoints_file))
    keys = _keys(config, public_key_file) if checkpoints else {}

    async def run() -> Verification:
        async with open_database(config) as database:
            return await verify(
                AuditEventRepository(database),
                checkpoints,
                keys,
                any_key=public_key_file is not None,
            )

    result = run_async(run)
    if as_json:
        document = result.to_json()
        document["checkpoints_file"] = str(checkpoints_file) if checkpoints_file else None
        echo_json(document)
    elif result.problem is not None:
        click.echo(f"audit chain does NOT verify: {result.problem.describe()}", err=True)
    else:
        writers = ", ".join(f"{w} (seq 1-{head})" for w, head in result.heads.items()) or "none"
        click.echo(
            f"audit chain verifies: {result.events} events, {result.records} call records, "
            f"writers {writers}; {result.checkpoints} signed checkpoints"
        )
        if checkpoints_file is None:
            click.echo(
                "no checkpoints file: a truncated tail cannot be detected "
                "(pass --checkpoints or set audit.checkpoint_file)",
                err=True,
            )
    if not result.ok:
        raise SystemExit(1)


def _keys(config: BastionConfig, public_key_file: Path | None) -> dict[str, Ed25519PublicKey]:
    if public_key_file is not None:
        try:
            return {"given": load_public_key(public_key_file.read_bytes())}
        except ValueError as exc:
            raise click.ClickException(f"{public_key_file}: {exc}") from exc
    try:
        path, _ = keyring_location(config)
        if path is None:
            raise click.UsageError("the store is in memory; pass --public-key")
        return public_keys(load_keyring(path, generate=False))
    except BastionError as exc:
        raise click.ClickException(f"{exc} (or pass --public-key)") from exc
