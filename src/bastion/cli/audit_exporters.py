"""``bastion audit exporters``: where each configured audit exporter stands — records
delivered, chain events still ahead of its cursors, which process holds it, and its
last success and error (docs/audit.md, "Exporters")."""

from __future__ import annotations

import time
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
    json_option,
    load_cli_config,
    open_database,
    run_async,
)
from bastion.identity.admin import RECORD_READERS, require_role
from bastion.storage.audit_exports import AuditExportRepository, ExporterStatus


def _moment(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@click.command("exporters")
@config_option
@admin_token_file_option
@json_option
def exporters(config_file: Path | None, admin_token_file: Path | None, as_json: bool) -> None:
    """Show each audit exporter's progress: delivered, behind, holder, last error."""
    config = load_cli_config(config_file)
    kinds = {exporter.name: exporter.kind for exporter in config.audit.exporters}

    async def operation() -> list[ExporterStatus]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, RECORD_READERS, READ_RECORDS)
            return await AuditExportRepository(db).status()

    found = {status.name: status for status in run_async(operation)}
    now = time.time()
    names = [*kinds, *sorted(set(found) - set(kinds))]
    rows = [_status_json(name, kinds.get(name), found.get(name), now) for name in names]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no audit exporters configured (audit.exporters)")
        return
    echo_table(
        ["NAME", "KIND", "HOLDER", "EXPORTED", "BEHIND", "LAST SUCCESS", "LAST ERROR"],
        [
            [
                row["name"],
                row["kind"] or "(not configured)",
                row["holder"] or "-",
                str(row["exported"]),
                str(row["behind"]),
                row["last_success_at"] or "-",
                f"{row['last_error_at']} {row['last_error']}" if row["last_error"] else "-",
            ]
            for row in rows
        ],
    )


def _status_json(
    name: str, kind: str | None, status: ExporterStatus | None, now: float
) -> dict[str, Any]:
    if status is None:  # configured, never started by a gateway yet
        return {
            "name": name,
            "kind": kind,
            "holder": None,
            "exported": 0,
            "behind": None,
            "last_success_at": None,
            "last_error": None,
            "last_error_at": None,
            "writers": [],
        }
    held = status.lease_owner is not None and status.lease_until > now
    return {
        "name": name,
        "kind": kind,
        "holder": status.lease_owner if held else None,
        "exported": status.exported,
        "behind": status.behind,
        "last_success_at": _moment(status.last_success_at),
        "last_error": status.last_error,
        "last_error_at": _moment(status.last_error_at),
        "writers": [
            {"writer_id": w.writer_id, "cursor": w.cursor, "head": w.head} for w in status.backlog
        ],
    }
