"""``bastion crypto``: create and inspect the keyring (pseudonym, fingerprint and
checkpoint-signing keys)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bastion.audit.checkpoints import public_key_pem
from bastion.cli._context import config_option, json_option, load_cli_config
from bastion.crypto.keyring import Keyring, Purpose, load_keyring, write_keyring
from bastion.crypto.location import keyring_location
from bastion.errors import BastionError


def _target(config_file: Path | None, keyring_file: Path | None) -> Path:
    if keyring_file is not None:
        return keyring_file
    try:
        path, _ = keyring_location(load_cli_config(config_file))
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    if path is None:
        raise click.UsageError("the store is in memory; pass --keyring-file")
    return path


_keyring_file_option = click.option(
    "--keyring-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keyring file (default: crypto.keyring_file, or keyring.json beside SQLite).",
)


@click.group("crypto")
def crypto() -> None:
    """Manage the keyring (never prints secrets)."""


@crypto.command("init")
@config_option
@_keyring_file_option
def init(config_file: Path | None, keyring_file: Path | None) -> None:
    """Create a new keyring file (mode 0600); refuses to overwrite one."""
    path = _target(config_file, keyring_file)
    if path.exists():
        raise click.ClickException(f"{path} exists; keys are never overwritten")
    ring = Keyring.generate()
    write_keyring(path, ring)
    click.echo(f"created {path}: " + ", ".join(key.id for key in ring.keys))


@crypto.command("show")
@config_option
@_keyring_file_option
@json_option
def show(config_file: Path | None, keyring_file: Path | None, as_json: bool) -> None:
    """List key ids, purposes and creation times (never the secrets)."""
    path = _target(config_file, keyring_file)
    try:
        ring = load_keyring(path, generate=False)
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [
        {
            "id": key.id,
            "purpose": key.purpose,
            "created": key.created,
            "active": ring.active(key.purpose).id == key.id,
        }
        for key in ring.keys
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "active" if row["active"] else "retired"
        click.echo(f"{row['id']}  {row['purpose']:<12} {row['created']}  {mark}")


@crypto.command("rotate")
@config_option
@_keyring_file_option
@click.argument("purpose", type=click.Choice(["pseudonym", "fingerprint", "signing"]))
def rotate(config_file: Path | None, keyring_file: Path | None, purpose: str) -> None:
    """Make a fresh active key for PURPOSE; the old one stays to match old records
    (and, for signing, to verify old checkpoints)."""
    path = _target(config_file, keyring_file)
    try:
        ring = load_keyring(path, generate=False)
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    chosen: Purpose = (
        "pseudonym"
        if purpose == "pseudonym"
        else "signing"
        if purpose == "signing"
        else "fingerprint"
    )
    fresh = ring.rotated(chosen)
    write_keyring(path, fresh)
    click.echo(f"{purpose} key is now {fresh.active(chosen).id}; restart the gateway to use it")


@crypto.command("export-public")
@config_option
@_keyring_file_option
@json_option
def export_public(config_file: Path | None, keyring_file: Path | None, as_json: bool) -> None:
    """Print the checkpoint-signing public key (PEM), for `bastion audit verify --public-key`."""
    path = _target(config_file, keyring_file)
    try:
        key = load_keyring(path, generate=False).active("signing")
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    pem = public_key_pem(key)
    if as_json:
        click.echo(json.dumps({"key_id": key.id, "algorithm": "ed25519", "public_key_pem": pem}))
    else:
        click.echo(pem, nl=False)
