"""``bastion audit show|purge|erase-subject``: one call's record and retained content,
the retention window and per-subject erasure (docs/audit.md; legal holds:
``cli.audit_holds``).

Showing content, decrypting it, purging, erasing and placing or releasing holds are
recorded on the admin chain (``audit.admin_events``) under the acting admin identity.
``erase-subject`` reads the subject's value from standard input (or a hidden prompt),
never from the command line, and never prints or records it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from bastion.audit import location
from bastion.audit.admin_events import ADMIN
from bastion.audit.checkpoints import Signer
from bastion.audit.retention import ContentPurger
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
from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import Keyring, load_keyring
from bastion.crypto.location import keyring_location
from bastion.errors import BastionError
from bastion.identity.admin import RECORD_READERS, AdminIdentity, AdminRole, require_role
from bastion.model.audit import record_to_json
from bastion.pipeline.admin_trail import AdminTrail
from bastion.pipeline.content_access import read_content
from bastion.storage.audit_content import AuditContentRepository
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.call_records import CallRecordRepository
from bastion.storage.database import Database

CONTENT_STEWARDS = (AdminRole.ADMIN, AdminRole.SECURITY)
"""Roles that may purge, erase and hold retained content (decrypting: `audit.decrypt_roles`)."""

_keyring_file_option = click.option(
    "--keyring-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keyring holding the content and fingerprint keys (default: the deployment's).",
)


def _ring(config: BastionConfig, keyring_file: Path | None) -> Keyring:
    try:
        path = keyring_file or keyring_location(config)[0]
        if path is None:
            raise click.UsageError("the store is in memory; pass --keyring-file")
        return load_keyring(path, generate=False)
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc


async def record_action(
    config: BastionConfig,
    database: Database,
    ring: Keyring | None,
    actor: AdminIdentity,
    action: str,
    target: str,
    details: dict[str, Any],
) -> None:
    """Chain one admin action (checkpointed when the ring has a signing key)."""
    await _trail(config, database, ring).record(actor, action, target, details)


def _trail(config: BastionConfig, database: Database, ring: Keyring | None) -> AdminTrail:
    signer = Signer(ring.active("signing")) if ring is not None and ring.has("signing") else None
    return AdminTrail(
        AuditEventRepository(database),
        signer=signer,
        checkpoint_file=location.checkpoint_file(config),
    )


def decrypt_roles(config: BastionConfig) -> tuple[AdminRole, ...]:
    """The roles ``audit.decrypt_roles`` lets decrypt retained content."""
    return tuple(AdminRole(role) for role in config.audit.decrypt_roles)


# --- show ---


@click.command("show")
@config_option
@admin_token_file_option
@_keyring_file_option
@click.argument("request_id")
@click.option("--decrypt", is_flag=True, help="Decrypt encrypted content (recorded as an event).")
@click.option("--reason", default=None, help="Why the content is read (kept with the event).")
@json_option
def show(
    config_file: Path | None,
    admin_token_file: Path | None,
    keyring_file: Path | None,
    request_id: str,
    decrypt: bool,
    reason: str | None,
    as_json: bool,
) -> None:
    """Print the audit record of REQUEST_ID and its retained content, if any.

    Content kept in plain text (redacted, full) is shown; encrypted content only with
    --decrypt, which needs the content key and the admin or security role. Each time
    content is shown, an admin event names who read it.
    """
    config = load_cli_config(config_file)

    async def operation() -> dict[str, Any]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, RECORD_READERS, READ_RECORDS)
            record = await CallRecordRepository(db).get(request_id)
            stored = await AuditContentRepository(db).for_request(request_id)
            if record is None and stored is None:
                raise click.ClickException(f"no audit record of request {request_id[:64]!r}")
            shown: dict[str, Any] = {
                "request_id": request_id,
                "record": record_to_json(record) if record is not None else None,
                "content": None,
            }
            if stored is not None:
                content: dict[str, Any] = {
                    "mode": stored.mode,
                    "digest": stored.digest,
                    "key_id": stored.key_id,
                    "kept_at": stored.created_at,
                    "truncated": stored.truncated,
                    "subjects": len(stored.fingerprints),
                }
                if stored.mode != "encrypted" or decrypt:
                    ring: Keyring | None
                    if stored.mode == "encrypted" or keyring_file is not None:
                        ring = _ring(config, keyring_file)
                    else:  # plain text reads without keys; the digest check needs them
                        ring = optional_ring(config)
                    read = await read_content(
                        stored,
                        actor,
                        ring=ring,
                        decrypt_roles=decrypt_roles(config),
                        trail=_trail(config, db, ring),
                        reason=reason,
                    )
                    content["intact"] = read.intact
                    content["document"] = read.document
                shown["content"] = content
            events = await AuditEventRepository(db).events_for(request_id, ADMIN)
            shown["content_reads"] = [_read_event(event.body, event.at) for event in events]
            return shown

    shown = run_async(operation)
    if as_json:
        echo_json(shown)
        return
    _print_shown(shown, decrypt)


def _read_event(body: str, at: float) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(body)
    return {"at": at, "action": data.get("action"), "actor": data.get("actor")}


def _print_shown(shown: dict[str, Any], decrypt: bool) -> None:
    record = shown["record"]
    if record is None:
        click.echo(f"request {shown['request_id']}: no call record (content only)")
    else:
        when = datetime.fromtimestamp(record["started_at"], UTC).isoformat(timespec="seconds")
        fields = {name: "-" if value is None else value for name, value in record.items()}
        click.echo(f"request {fields['request_id']}  {when}  {fields['endpoint']}")
        click.echo(
            f"  caller   key {fields['key_id']}  app {fields['app']}  team {fields['team']}  "
            f"env {fields['environment']}"
        )
        click.echo(
            f"  model    {fields['model_requested']} -> {fields['model_used']}  "
            f"decision {fields['decision']}  status {fields['status']} ({fields['http_status']})"
        )
        for finding in record["findings"]:
            click.echo(
                f"  found    {finding['data_class']} x{finding['count']} in "
                f"{finding['source']} {finding['location']}"
            )
    content = shown["content"]
    kept = (record or {}).get("request_facts", {}).get("content")
    if content is None and isinstance(kept, dict) and "digest" in kept:
        click.echo(f"  content  {kept.get('mode')} content was purged or erased")
    elif content is None:
        click.echo("  content  none kept")
    else:
        click.echo(
            f"  content  {content['mode']}  digest {content['digest']}"
            + (f"  key {content['key_id']}" if content["key_id"] else "")
            + ("  (truncated)" if content["truncated"] else "")
        )
        if "document" in content:
            if content["intact"] is False:
                click.echo("  WARNING: the content does not match its digest (altered)", err=True)
            elif content["intact"] is None:
                click.echo("  (not checked against its digest: no keyring here)", err=True)
            click.echo(orjson.dumps(content["document"], option=orjson.OPT_INDENT_2).decode())
        elif not decrypt:
            click.echo("  (encrypted: add --decrypt to read it; the read is recorded)")
    for event in shown["content_reads"]:
        moment = datetime.fromtimestamp(event["at"], UTC).isoformat(timespec="seconds")
        click.echo(f"  {event['action']} by {event['actor']} at {moment}")


# --- purge ---


@click.command("purge")
@config_option
@admin_token_file_option
@click.option(
    "--older-than",
    default=None,
    help="Purge content older than this (30d, 12h; 0: all); default audit.content.retention_days.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be purged.")
@json_option
def purge(
    config_file: Path | None,
    admin_token_file: Path | None,
    older_than: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete retained content past the retention window (legal holds are kept). The
    chained records stay: `bastion audit verify` passes afterwards."""
    config = load_cli_config(config_file)
    window = None
    if older_than is not None:
        window = parse_duration(older_than, option="--older-than", zero=True).total_seconds()

    async def operation() -> dict[str, Any]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, CONTENT_STEWARDS, "purge retained content")
            store = AuditContentRepository(db)
            ring = optional_ring(config)
            purger = ContentPurger(
                store,
                db,
                retention_days=config.audit.content.retention_days,
                admin_chain=AuditEventRepository(db),
                signer=Signer(ring.active("signing")) if ring and ring.has("signing") else None,
                checkpoint_file=location.checkpoint_file(config),
            )
            cutoff = purger.cutoff(window)
            if dry_run:
                result = await store.expired(cutoff)
            else:
                result = await purger.purge(
                    older_than_s=window, actor=actor.subject, role=actor.role.value
                )
            return {
                "cutoff": iso(datetime.fromtimestamp(cutoff, UTC)),
                "deleted": 0 if dry_run else result.deleted,
                "would_delete": result.deleted if dry_run else 0,
                "held": result.held,
                "dry_run": dry_run,
            }

    report = run_async(operation)
    if as_json:
        echo_json(report)
        return
    verb = "would purge" if dry_run else "purged"
    count = report["would_delete"] if dry_run else report["deleted"]
    click.echo(
        f"{verb} the content of {count} calls kept before {report['cutoff']}; "
        f"{report['held']} kept under legal hold"
    )


def optional_ring(config: BastionConfig) -> Keyring | None:
    """The deployment's ring if it exists (to sign the event's checkpoint), else None."""
    try:
        path = keyring_location(config)[0]
        return load_keyring(path, generate=False) if path is not None and path.exists() else None
    except BastionError:
        return None


# --- per-subject erasure ---


@click.command("erase-subject")
@config_option
@admin_token_file_option
@_keyring_file_option
@click.option(
    "--class",
    "classes",
    multiple=True,
    help="Data class of the value (repeatable), e.g. pii.email; default: what the detectors "
    "recognise in it.",
)
@click.option("--dry-run", is_flag=True, help="Only list the calls whose content would go.")
@json_option
def erase_subject(
    config_file: Path | None,
    admin_token_file: Path | None,
    keyring_file: Path | None,
    classes: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete the retained content of every call in which a value was found (a data
    subject's email, card number, ...), matched by keyed fingerprint.

    The value is read from standard input (or a hidden prompt on a terminal), never
    from the command line, and is neither printed nor recorded. Content under a legal
    hold is kept and listed. Call records stay (they never hold the value).
    """
    config = load_cli_config(config_file)
    value = _read_subject_value()
    ring = _ring(config, keyring_file)
    fingerprints, found = _subject_fingerprints(config, ring, value, classes)

    async def operation() -> dict[str, Any]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, CONTENT_STEWARDS, "erase retained content")
            store = AuditContentRepository(db)
            if dry_run:
                result = await store.find_subject(fingerprints)
            else:
                result = await store.erase(fingerprints)
                if result.deleted:
                    await db.scrub()
                details = {
                    "classes": sorted(found),
                    "erased": len(result.deleted),
                    "held": len(result.held),
                }
                await record_action(config, db, ring, actor, "content.erase", "content", details)
            listed = "would_erase" if dry_run else "erased"
            return {
                "classes": sorted(found),
                "dry_run": dry_run,
                listed: list(result.deleted),
                "held": list(result.held),
            }

    report = run_async(operation)
    if as_json:
        echo_json(report)
        return
    ids = report.get("erased", report.get("would_erase", []))
    verb = "would erase" if dry_run else "erased"
    click.echo(f"{verb} the content of {len(ids)} calls (classes: {', '.join(report['classes'])})")
    for request_id in ids:
        click.echo(f"  {request_id}")
    if report["held"]:
        click.echo(f"kept under legal hold: {len(report['held'])} calls")
        for request_id in report["held"]:
            click.echo(f"  {request_id} (held)")


def _read_subject_value() -> str:
    if sys.stdin.isatty():
        value = click.prompt("Value to erase (not echoed)", hide_input=True, err=True)
    else:
        value = sys.stdin.read()
    value = str(value).strip()
    if not value:
        raise click.UsageError("give the value on standard input (it is never an argument)")
    return value


def _subject_fingerprints(
    config: BastionConfig, ring: Keyring, value: str, classes: tuple[str, ...]
) -> tuple[list[str], set[str]]:
    """Every fingerprint the gateway may have recorded for ``value`` (every fingerprint
    key the ring holds), and the classes they are for."""
    from bastion.detect.catalog import build_scanner  # the detectors load only when used

    try:
        hits = build_scanner(config.detectors).scan(value, "user").findings
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    wanted = set(classes)
    found: set[str] = set()
    fingerprints: list[str] = []
    for hit in hits:
        if hit.value and (not wanted or hit.data_class in wanted):
            found.add(hit.data_class)
            fingerprints.extend(ring.fingerprints_of(hit.data_class, hit.value))
    for data_class in wanted:
        found.add(data_class)
        fingerprints.extend(ring.fingerprints_of(data_class, value))
    if not fingerprints:
        raise click.ClickException(
            "no detector recognises the value as a data class; name its class with --class "
            "(e.g. --class pii.email)"
        )
    return list(dict.fromkeys(fingerprints)), found
