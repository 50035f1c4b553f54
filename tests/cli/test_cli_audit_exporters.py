"""``bastion audit exporters``: each configured exporter's progress and last error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner
from tests.audit.exporter_sinks import ChainWriter

from bastion.audit.exporters.base import SinkError
from bastion.audit.exporters.records import ExportRecord
from bastion.audit.exporters.runner import Exporter
from bastion.cli.main import cli
from bastion.config.loader import load_config
from bastion.storage import Database
from bastion.storage.audit_exports import AuditExportRepository

CONFIG = """\
storage: {url: "sqlite:///data/bastion.db"}
audit:
  exporters:
    - {name: hook, kind: webhook, url: "http://hooks.internal/audit"}
    - {name: siem, kind: syslog, host: siem.internal}
"""


class FlakySink:
    kind = "flaky"

    def __init__(self) -> None:
        self.down = True

    async def send(self, records: Sequence[ExportRecord]) -> None:
        if self.down:
            raise SinkError("receiver answered HTTP 503")

    async def close(self) -> None:
        return None


async def _export(config_file: Path, sink: FlakySink, *, calls: int) -> None:
    config = load_config(config_file)
    database = Database.from_url(config.storage.url)
    await database.migrate()
    if calls:
        await ChainWriter(database).calls(0, calls)
    exporter = Exporter(
        config.audit.exporters[0], sink, AuditExportRepository(database), owner="cli-test"
    )
    try:
        while await exporter.run_once():
            pass
    except SinkError as exc:
        await AuditExportRepository(database).failed("hook", "cli-test", str(exc), 1e9)
    await exporter.close()
    await database.close()


def _status(config_file: Path) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["audit", "exporters", "--json", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)
    return rows


def test_status_shows_the_backlog_and_last_error_then_the_catch_up(tmp_path: Path) -> None:
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    sink = FlakySink()
    asyncio.run(_export(config_file, sink, calls=3))
    hook, siem = _status(config_file)
    assert hook["kind"] == "webhook" and hook["exported"] == 0 and hook["behind"] == 6
    assert hook["last_error"] == "receiver answered HTTP 503"
    assert hook["holder"] is None  # released when the exporter closed
    assert siem == {**siem, "kind": "syslog", "exported": 0, "behind": None}

    sink.down = False
    asyncio.run(_export(config_file, sink, calls=0))
    hook, _ = _status(config_file)
    assert hook["exported"] == 3 and hook["behind"] == 0
    assert hook["writers"] == [{"writer_id": "w1", "cursor": 6, "head": 6}]
    table = CliRunner().invoke(cli, ["audit", "exporters", "--config", str(config_file)])
    assert table.exit_code == 0
    assert table.output.splitlines()[0].split()[:3] == ["NAME", "KIND", "HOLDER"]
