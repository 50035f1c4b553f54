"""``bastion crypto``: create, inspect, rotate, back up and restore the keyring
(pseudonym, fingerprint, checkpoint-signing and content-encryption keys)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from bastion.audit.checkpoints import public_key_pem
from bastion.cli._context import config_option, json_option, load_cli_config
from bastion.crypto.backup import backup_keyring, restore_keyring
from bastion.crypto.keyring import PURPOSES, Keyring, load_keyring, write_keyring
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
@click.argument("purpose", type=click.Choice(list(PURPOSES)))
def rotate(config_file: Path | None, keyring_file: Path | None, purpose: str) -> None:
    """Make a fresh active key for PURPOSE; the old one stays to match old records
    (for signing, to verify old checkpoints; for content, to decrypt older content).
    Back the keyring up again afterwards (`bastion crypto backup`)."""
    path = _target(config_file, keyring_file)
    try:
        ring = load_keyring(path, generate=False)
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    chosen = next(p for p in PURPOSES if p == purpose)
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


_PASSPHRASE_ENV = "BASTION_BACKUP_PASSPHRASE"  # noqa: S105 (a variable name)


def _passphrase(confirm: bool) -> str:
    """The backup passphrase: $BASTION_BACKUP_PASSPHRASE, else a hidden prompt."""
    passphrase = os.environ.get(_PASSPHRASE_ENV)
    if passphrase:
        return passphrase
    if not sys.stdin.isatty():
        raise click.UsageError(f"set {_PASSPHRASE_ENV} or run on a terminal to type the passphrase")
    return str(
        click.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    )


@crypto.command("backup")
@config_option
@_keyring_file_option
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the encrypted backup (refuses to overwrite a file).",
)
def backup(config_file: Path | None, keyring_file: Path | None, out_file: Path) -> None:
    """Write the keyring, encrypted under a passphrase ($BASTION_BACKUP_PASSPHRASE or a
    prompt), to --out: store it off-host. Without the keyring, encrypted content,
    pseudonym restoration and fingerprint matching are lost for good."""
    path = _target(config_file, keyring_file)
    try:
        ring = load_keyring(path, generate=False)
        document = backup_keyring(ring, _passphrase(confirm=True))
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{out_file} exists; backups are never overwritten") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(document)
    click.echo(f"backed up {len(ring.keys)} keys of {path} to {out_file} (encrypted)")


@crypto.command("restore")
@config_option
@_keyring_file_option
@click.option(
    "--from",
    "backup_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A backup written by `bastion crypto backup`.",
)
def restore(config_file: Path | None, keyring_file: Path | None, backup_file: Path) -> None:
    """Write the keyring inside a backup to the keyring file (which must not exist)."""
    path = _target(config_file, keyring_file)
    if path.exists():
        raise click.ClickException(
            f"{path} exists; move it away first (keys are never overwritten)"
        )
    try:
        ring = restore_keyring(
            backup_file.read_bytes(), _passphrase(confirm=False), str(backup_file)
        )
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    write_keyring(path, ring)
    click.echo(f"restored {len(ring.keys)} keys to {path}")
