"""Backup and restore, as docs/operations.md tells them: with the gateway serving,
copy the checkpoint file, back up the database (SQLite's online backup API; pg_dump for
PostgreSQL) and the keyring (``bastion crypto backup``); restore all three into a fresh
place; ``bastion audit verify`` passes on the restored trail and fails once a restored
record is changed."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _postgres_admin
from tests.e2e.conftest import CONFIG, SIM_KEY
from tests.e2e.processes import BASTION, cli_json, free_port, start, stop, wait_http
from tests.limits.redis_servers import unavailable

SQLITE = 'storage: {url: "sqlite:///gateway.db", poll_interval_s: 0.2}'
CALLS = 12
PASSPHRASE = "correct horse battery staple (test only)"
AUDIT = (
    "crypto: {keyring_file: keyring.json}\n"
    "audit: {flush_interval_s: 0.02, checkpoint_every: 5, checkpoint_interval_s: 0.5,"
    " wal_dir: wal, checkpoint_file: checkpoints.jsonl}\n"
)


@dataclass
class Site:
    """One gateway's files: config, keyring, checkpoints (and the SQLite database)."""

    work: Path
    storage_url: str

    @property
    def config(self) -> Path:
        return self.work / "bastion.yaml"

    def write_config(self, port: int, sim_port: int) -> None:
        text = CONFIG.format(
            port=port,
            admin_port=free_port(),
            sim_port=sim_port,
            dead_port=free_port(),
            sim_key=SIM_KEY,
        )
        assert SQLITE in text
        storage = f'storage: {{url: "{self.storage_url}", poll_interval_s: 0.2}}'
        self.config.write_text(text.replace(SQLITE, storage) + AUDIT)

    def bastion(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BASTION, *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    def verify(self) -> tuple[int, dict[str, object]]:
        done = self.bastion(
            "audit", "verify", "--checkpoints", str(self.work / "checkpoints.jsonl"), "--json"
        )
        report: dict[str, object] = json.loads(done.stdout)
        return done.returncode, report


def _serve_and_call(site: Site, calls: int) -> subprocess.Popen[bytes]:
    """Start a simulator and the gateway of ``site``; make ``calls`` calls; return the
    gateway, still serving (the backup is taken live)."""
    sim_port, port = free_port(), free_port()
    site.write_config(port, sim_port)
    sim = start(["simulate", "--port", str(sim_port), "--api-key", SIM_KEY], site.work / "sim.log")
    site.sim = sim  # type: ignore[attr-defined]
    wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
    assert site.bastion("crypto", "init").returncode == 0
    token = cli_json(
        "admin-token", "create", "--config", str(site.config), "--role", "admin", "--subject", "ops"
    )
    (site.work / "admin-token").write_text(str(token["token"]))
    key = cli_json(
        "keys",
        "create",
        "--config",
        str(site.config),
        "--name",
        "backup",
        "--admin-token-file",
        str(site.work / "admin-token"),
    )["key"]
    gateway = start(["serve", "--config", str(site.config)], site.work / "gateway.log")
    wait_http(f"http://127.0.0.1:{port}/v1/models", gateway, timeout_s=90)
    for i in range(calls):
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "user", "content": f"call {i}: mail me at a{i}@corp.example"}
                ],
            },
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
    _until_shipped_and_checkpointed(site, calls)
    return gateway


def _stored(site: Site) -> tuple[int, set[str]]:
    """How many call records the database holds, and each writer's head hash."""
    if site.storage_url.startswith("sqlite"):
        with sqlite3.connect(site.work / "gateway.db") as db:
            (records,) = db.execute("SELECT count(*) FROM call_records").fetchone()
            heads = db.execute("SELECT head_hash FROM audit_writers WHERE head_seq > 0")
            return records, {head for (head,) in heads}
    query = (
        "SELECT (SELECT count(*) FROM call_records), "
        "coalesce(string_agg(head_hash, ','), '') FROM audit_writers WHERE head_seq > 0"
    )
    done = subprocess.run(
        ["psql", site.storage_url, "-tA", "-c", query],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    records, heads = done.stdout.strip().split("|")
    return int(records), set(filter(None, heads.split(",")))


def _signed_hash(line: str) -> str | None:
    """The hash a checkpoint line signs (None for a line still being written)."""
    try:
        return str(json.loads(line)["hash"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return None


def _until_shipped_and_checkpointed(site: Site, calls: int, timeout_s: float = 60.0) -> None:
    """Wait until every call's record is in the database and a checkpoint covers each
    writer's head (written every 5 records or 0.5 s; a loaded runner may take longer)."""
    checkpoints = site.work / "checkpoints.jsonl"
    deadline = time.monotonic() + timeout_s
    while True:
        records, heads = _stored(site)
        lines = checkpoints.read_text().splitlines() if checkpoints.exists() else []
        signed = {_signed_hash(line) for line in lines}
        if records == calls and heads <= signed:
            return
        assert time.monotonic() < deadline, (
            f"within {timeout_s}s: {records} of {calls} records; heads {heads}, signed {signed}"
        )
        time.sleep(0.1)


def _back_up_keyring_and_checkpoints(site: Site, backup: Path) -> None:
    """Checkpoints first: a checkpoint must never be newer than the database copy."""
    shutil.copy2(site.work / "checkpoints.jsonl", backup / "checkpoints.jsonl")
    done = site.bastion(
        "crypto",
        "backup",
        "--out",
        str(backup / "keyring.backup"),
        env={"BASTION_BACKUP_PASSPHRASE": PASSPHRASE, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr


def _restore_keyring_and_checkpoints(backup: Path, restored: Site) -> None:
    shutil.copy2(backup / "checkpoints.jsonl", restored.work / "checkpoints.jsonl")
    done = restored.bastion(
        "crypto",
        "restore",
        "--from",
        str(backup / "keyring.backup"),
        env={"BASTION_BACKUP_PASSPHRASE": PASSPHRASE, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert (restored.work / "keyring.json").exists()


def _check_restored(restored: Site, tamper: object) -> None:
    code, report = restored.verify()
    assert code == 0 and report["ok"], report
    assert report["records"] == CALLS and report["checkpoints"], report
    tamper()  # type: ignore[operator]
    code, report = restored.verify()
    assert code == 1 and not report["ok"], report


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    live, backup, fresh = tmp_path / "live", tmp_path / "backup", tmp_path / "restored"
    for folder in (live, backup, fresh):
        folder.mkdir()
    yield live, backup, fresh


def test_sqlite_backup_restores_a_trail_that_verifies(dirs: tuple[Path, Path, Path]) -> None:
    live_dir, backup, fresh = dirs
    live = Site(live_dir, "sqlite:///gateway.db")
    gateway = _serve_and_call(live, CALLS)
    try:
        _back_up_keyring_and_checkpoints(live, backup)
        source = sqlite3.connect(live_dir / "gateway.db")
        target = sqlite3.connect(backup / "gateway.db")
        with target:
            source.backup(target)  # consistent while the gateway writes
        source.close()
        target.close()
    finally:
        assert "Traceback" not in stop(gateway)
        stop(live.sim)  # type: ignore[attr-defined]

    restored = Site(fresh, "sqlite:///gateway.db")
    restored.write_config(free_port(), free_port())
    shutil.copy2(backup / "gateway.db", fresh / "gateway.db")
    _restore_keyring_and_checkpoints(backup, restored)

    def tamper() -> None:
        with sqlite3.connect(fresh / "gateway.db") as db:
            db.execute(
                "UPDATE call_records SET decision = 'block' WHERE request_id = "
                "(SELECT request_id FROM call_records ORDER BY started_at LIMIT 1)"
            )

    _check_restored(restored, tamper)


@pytest.mark.postgres
def test_postgres_backup_restores_a_trail_that_verifies(dirs: tuple[Path, Path, Path]) -> None:
    live_dir, backup, fresh = dirs
    names = [f"bastion_backup_{uuid.uuid4().hex[:10]}", f"bastion_restored_{uuid.uuid4().hex[:8]}"]
    urls = [f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{n}" for n in names]
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{names[0]}"'))
    except (OSError, TimeoutError) as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}")
    try:
        live = Site(live_dir, urls[0])
        gateway = _serve_and_call(live, CALLS)
        try:
            _back_up_keyring_and_checkpoints(live, backup)
            dump = backup / "bastion.dump"
            subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", urls[0]],
                check=True,
                timeout=120,
            )
        finally:
            assert "Traceback" not in stop(gateway)
            stop(live.sim)  # type: ignore[attr-defined]

        asyncio.run(_postgres_admin(f'CREATE DATABASE "{names[1]}"'))
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={urls[1]}", str(dump)],
            check=True,
            timeout=120,
        )
        restored = Site(fresh, urls[1])
        restored.write_config(free_port(), free_port())
        _restore_keyring_and_checkpoints(backup, restored)

        def tamper() -> None:
            subprocess.run(
                [
                    "psql",
                    urls[1],
                    "-c",
                    "UPDATE call_records SET decision = 'block' WHERE request_id = "
                    "(SELECT request_id FROM call_records ORDER BY started_at LIMIT 1)",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )

        _check_restored(restored, tamper)
    finally:
        for name in names:
            asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
