"""``bastion audit verify`` and ``bastion crypto export-public`` on an embedded store."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bastion.audit import location
from bastion.audit.checkpoints import Signer
from bastion.audit.log import AuditLog
from bastion.cli.main import cli
from bastion.config.loader import load_config
from bastion.crypto.location import open_keyring
from bastion.model import CallRecord, CallStatus
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.database import Database


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


async def _audit_calls(config_file: Path, calls: int) -> None:
    config = load_config(config_file)
    database = Database.from_url(config.storage.url)
    await database.migrate()
    log = AuditLog(
        AuditEventRepository(database),
        location.wal_dir(config),
        signer=Signer(open_keyring(config).active("signing")),
        checkpoint_file=location.checkpoint_file(config),
    )
    await log.start()
    for n in range(calls):
        record = CallRecord(
            f"req_{n}",
            1.0 + n,
            "chat.completions",
            None,
            "m",
            "m",
            "allow",
            CallStatus.COMPLETED,
            200,
        )
        await log.intent(record)
        log.submit(record)
    await log.close()
    await database.close()


def test_verify_passes_then_names_the_edited_record(config_file: Path) -> None:
    asyncio.run(_audit_calls(config_file, 3))
    code, out = run("audit", "verify", "--config", str(config_file), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["records"] == 3 and report["checkpoints"] == 1

    db = sqlite3.connect(config_file.parent / "data" / "bastion.db")
    db.execute("UPDATE call_records SET http_status = 500 WHERE request_id = 'req_1'")
    db.commit()
    db.close()
    code, out = run("audit", "verify", "--config", str(config_file))
    assert code == 1
    assert "seq 4, request req_1" in out and "http_status" in out


def test_an_auditor_verifies_with_the_exported_public_key(
    config_file: Path, tmp_path: Path
) -> None:
    asyncio.run(_audit_calls(config_file, 2))
    code, pem = run("crypto", "export-public", "--config", str(config_file))
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in pem
    key = tmp_path / "audit.pub"
    key.write_text(pem)
    checkpoints = config_file.parent / "data" / "audit-checkpoints.jsonl"
    code, out = run(
        "audit",
        "verify",
        "--config",
        str(config_file),
        "--checkpoints",
        str(checkpoints),
        "--public-key",
        str(key),
    )
    assert code == 0 and "1 signed checkpoints" in out
