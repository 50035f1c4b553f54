"""Drills on the embedded SQLite store (RELIABILITY.md "Faults to drill": database
locked, integrity check at start-up).

- locked: another process holds SQLite's write lock (``BEGIN EXCLUSIVE``) for longer
  than the gateway's busy timeout. Calls keep being answered while their records spool
  in the local log, and are refused with 503 ``audit_unavailable`` once the spool is
  full — never a 500 or a hang; once the lock is released the spool ships, calls pass
  again without a restart, every call has its record and ``bastion audit verify``
  passes.
- integrity check at start-up (``audit.verify_at_start``): the last audit record edited
  while the gateway was down — the gateway refuses to start, with one line naming the
  record and the command to investigate (``bastion audit verify`` names the same
  record); ``audit.verify_at_start: 0`` lets it start anyway;
- a write-ahead log segment cut short while spooled (the database locked, the gateway
  killed): the gateway starts, ships every complete entry, closes the call whose ending
  was cut as ``unknown_after_crash``, and the trail verifies.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.processes import BASTION, cli_json
from tests.e2e.stacks import Gateway, gateway_config, simulator, until

SPOOL_BYTES = 1 << 16  # the smallest spool limit the config takes
BUSY_TIMEOUT_S = 5.0  # storage/database.py SQLITE_BUSY_TIMEOUT_MS
AUDIT = f"audit: {{flush_interval_s: 0.02, max_spool_bytes: {SPOOL_BYTES}, checkpoint_every: 20}}\n"


@pytest.fixture
def sqlite_stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, AUDIT) as stack:
        yield stack


def _call(stack: Stack, text: str, *, big: bool = False) -> httpx.Response:
    messages = [{"role": "user", "content": text}]
    if big:  # forty findings: several KiB of audit entries per call
        messages += [
            {"role": "user", "content": f"write to dana.{n}@northwind-example.com"}
            for n in range(40)
        ]
    return httpx.post(
        f"{stack.base_url}/chat/completions",
        headers={"authorization": f"Bearer {stack.key}"},
        json={"model": "gpt-4o-mini", "messages": messages},
        timeout=60,
    )


def _readyz(stack: Stack) -> int:
    return httpx.get(stack.base_url.removesuffix("/v1") + "/readyz", timeout=30).status_code


def _until(check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout_s}s"
        time.sleep(0.1)


def _verify(config: Path) -> dict[str, object]:
    done = subprocess.run(
        [BASTION, "audit", "verify", "--config", str(config), "--json"],
        capture_output=True,
        timeout=120,
    )
    report: dict[str, object] = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"], report
    return report


class WriteLock:
    """Another process's ``BEGIN EXCLUSIVE`` on the gateway's database, held until released."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("BEGIN EXCLUSIVE")
        self.taken = time.monotonic()

    def release(self) -> None:
        self._db.execute("ROLLBACK")
        self._db.close()


def test_a_locked_sqlite_database_spools_then_refuses_then_ships(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    answered: list[str] = []

    def call(text: str, *, big: bool = False) -> httpx.Response:
        reply = _call(stack, text, big=big)
        if "x-bastion-request-id" in reply.headers:
            answered.append(reply.headers["x-bastion-request-id"])
        return reply

    assert call("before the lock").status_code == 200
    lock = WriteLock(stack.config.parent / "gateway.db")
    outcomes: list[str] = []
    took: list[float] = []
    try:
        with ThreadPoolExecutor(4) as pool:

            def timed(n: int) -> tuple[httpx.Response, float]:
                started = time.monotonic()
                reply = call(f"while locked {n}", big=True)
                return reply, time.monotonic() - started

            n = 0
            # until the lock has outlived the busy timeout and the spool has filled
            while "audit_unavailable" not in outcomes or time.monotonic() - lock.taken < (
                BUSY_TIMEOUT_S + 2
            ):
                assert time.monotonic() - lock.taken < 60, outcomes
                for reply, seconds in pool.map(timed, range(n, n + 4)):
                    took.append(seconds)
                    assert reply.status_code in (200, 503), reply.text
                    outcomes.append(
                        "200" if reply.status_code == 200 else reply.json()["error"]["code"]
                    )
                n += 4
                if "audit_unavailable" in outcomes:
                    time.sleep(0.5)  # refused: keep asking, gently
        took.sort()
        print(
            f"locked: {outcomes.count('200')} answered of {len(outcomes)}, median"
            f" {took[len(took) // 2]:.2f}s, slowest {took[-1]:.2f}s"
        )
        assert set(outcomes) <= {"200", "audit_unavailable"}, outcomes
        assert outcomes[0] == "200", outcomes
        assert "audit_unavailable" in outcomes
        assert took[len(took) // 2] < BUSY_TIMEOUT_S / 2, took  # calls never wait on the lock
        assert took[-1] < BUSY_TIMEOUT_S + 10, took  # and none hangs
        assert _readyz(stack) == 503
    finally:
        lock.release()
    _until(lambda: call("after the lock").status_code == 200, 30)
    _until(lambda: _readyz(stack) == 200, 60)
    report = _verify(stack.config)
    records = report["records"]
    assert isinstance(records, int) and records >= len(set(answered)), (report, len(answered))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[Gateway, str]]:
    """A restartable gateway on SQLite (not started) and a key for it."""
    with simulator(tmp_path) as sim_url:
        sim_port = int(sim_url.rsplit(":", 1)[1])
        made = Gateway.write(
            tmp_path,
            "gateway",
            lambda port, admin: gateway_config(
                port=port,
                admin_port=admin,
                storage_url="sqlite:///gateway.db",
                sim_port=sim_port,
                sections=AUDIT,
            ),
        )
        key = str(cli_json("keys", "create", "--config", str(made.config), "--name", "d")["key"])
        try:
            yield made, key
        finally:
            if made.proc is not None:
                made.stop()


def test_a_tampered_last_record_stops_the_start_and_says_where(
    gateway: tuple[Gateway, str],
) -> None:
    drill, key = gateway
    drill.serve()
    for n in range(3):
        assert drill.chat(key, f"call {n}").status_code == 200
    drill.stop()
    with sqlite3.connect(drill.work / "gateway.db") as db:
        (last,) = db.execute("SELECT max(seq) FROM audit_events").fetchone()
        db.execute(
            "UPDATE audit_events SET body = replace(body, 'completed', 'failed') WHERE seq = ?",
            (last,),
        )
    proc = drill.launch()
    try:
        proc.wait(90)
    except subprocess.TimeoutExpired:
        pytest.fail("the gateway started on a tampered audit trail")
    log = drill.stop()
    assert proc.returncode != 0
    lines = [line for line in log.splitlines() if "integrity check at start-up failed" in line]
    assert lines, log[-4000:]
    assert f"seq {last}" in lines[0] and "modified" in lines[0], lines[0]
    assert "bastion audit verify" in lines[0]
    report = drill.verify(ok=False)  # the verifier names the same record
    problem = report["problem"]
    assert isinstance(problem, dict) and problem["seq"] == last, report

    # the documented way to start anyway (the verifier keeps naming the damage)
    drill.config.write_text(
        drill.config.read_text().replace("audit: {", "audit: {verify_at_start: 0, ")
    )
    drill.serve()
    assert drill.chat(key, "after the override").status_code == 200


def test_a_wal_segment_cut_short_while_spooled_ships_up_to_the_cut(
    gateway: tuple[Gateway, str],
) -> None:
    drill, key = gateway
    drill.serve()
    assert drill.chat(key, "shipped before the lock").status_code == 200
    lock = WriteLock(drill.work / "gateway.db")  # nothing ships from now on
    try:
        ids = []
        for n in range(3):
            reply = drill.chat(key, f"spooled {n}")
            assert reply.status_code == 200, reply.text
            ids.append(reply.headers["x-bastion-request-id"])
        assert drill.proc is not None
        drill.proc.kill()  # kill -9 with the three calls only in the log
        drill.proc.wait()
        drill.proc = None
    finally:
        lock.release()
    segments = sorted((drill.work / "audit-wal").glob("w_*/*.wal"), key=lambda p: p.stat().st_size)
    spooled = [s for s in segments if ids[-1].encode() in s.read_bytes()]
    assert len(spooled) == 1, segments
    data = spooled[0].read_bytes()
    spooled[0].write_bytes(data[: len(data) - 40])  # the last entry (an ending) cut short
    drill.serve()
    with sqlite3.connect(drill.work / "gateway.db") as db:
        until(
            lambda: (
                db.execute(
                    f"SELECT count(*) FROM call_records WHERE request_id IN ({','.join('?' * 3)})",
                    ids,
                ).fetchone()[0]
                == 3
            ),
            30,
        )
        statuses = dict(
            db.execute(
                f"SELECT request_id, status FROM call_records WHERE request_id IN"
                f" ({','.join('?' * 3)})",
                ids,
            ).fetchall()
        )
    assert statuses[ids[0]] == statuses[ids[1]] == "completed", statuses
    assert statuses[ids[2]] == "unknown_after_crash", statuses  # its ending was cut
    drill.stop()
    report = drill.verify()
    assert report["records"] == 4, report
