"""Time the audit hot path: one call's intent (before forwarding) plus its completion.

    .venv/bin/python -m bench.audit [--calls N] [--postgres URL] [--no-save]

Runs ``AuditLog`` against a real SQLite store in a temporary directory, with its
shipper running, and times what the gateway awaits per call: ``intent`` (the
write-ahead-log append; with ``fsync`` also the group fsync) and ``submit`` (the
completion append). Sequential calls give the per-call latency; ``fsync`` is also run
with 32 calls in flight, where one fsync serves the group. The goal (issue #7) is
≤ 100 µs p50 in ``process`` mode.

It also times the shipper, which runs on the same event loop as the calls: batches of
10 calls (20 events, what 200 calls/s bring in one 50 ms flush interval) shipped to
SQLite and, with ``--postgres``, to PostgreSQL; reported per call as the event loop's
CPU time (what the calls in flight wait for) and wall time.
Results go to bench/results/audit-<date>-<commit>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.audit.checkpoints import Signer
from bastion.audit.log import AuditLog
from bastion.crypto.keyring import Keyring
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal, Usage
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.database import Database
from bench.overhead.results import git_commit, write_result

GOAL_US = 100.0
PRINCIPAL = Principal(
    key_id="k_1a2b3c4d",
    name="helpdesk",
    user="ana",
    app="helpdesk",
    team="support",
    environment="prod",
    roles=("app",),
    owner="ops",
)


def record(n: int) -> CallRecord:
    """A typical record: a few findings, rules and request facts."""
    return CallRecord(
        f"req_{n:012d}",
        time.time(),
        "chat.completions",
        PRINCIPAL,
        "gpt-4o",
        "gpt-4o-mini",
        "redact",
        CallStatus.COMPLETED,
        200,
        usage=Usage(512, 480),
        gateway_ms=0.7,
        upstream_ms=410.0,
        findings=(
            FindingSummary("pii.email", "user", "messages.1.content", 2, 0.95),
            FindingSummary("pii.phone", "user", "messages.1.content", 1, 0.8),
            FindingSummary("secret.aws_access_key", "user", "messages.3.content", 1, 1.0),
        ),
        rules=("pii.redact", "secrets.block_prod"),
        policy_version="default@prod+0123456789ab",
        provider="openai",
        request_facts={
            "segments": [["system", 220], ["user", 1800], ["assistant", 400], ["user", 90]],
            "tools": [],
            "unscanned": [],
            "untrusted_marks": 0,
            "exception": None,
            "redacted": {"pii.email": 2, "pii.phone": 1},
            "class_set": "4f3c2a1b",
        },
    )


async def run(durability: str, calls: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        database = Database.from_url(f"sqlite:///{work}/bench.db")
        await database.migrate()
        log = AuditLog(
            AuditEventRepository(database),
            Path(work) / "wal",
            durability=durability,  # type: ignore[arg-type]
            signer=Signer(Keyring.generate().active("signing")),
            checkpoint_file=Path(work) / "checkpoints.jsonl",
        )
        await log.start()
        samples: list[float] = []

        async def one(n: int) -> None:
            rec = record(n)
            start = time.perf_counter_ns()
            await log.intent(rec)
            log.submit(rec)
            samples.append((time.perf_counter_ns() - start) / 1000.0)

        for n in range(200):  # warm up
            await one(-n - 1)
        samples.clear()
        started = time.perf_counter()
        for first in range(0, calls, concurrency):
            await asyncio.gather(*(one(n) for n in range(first, min(first + concurrency, calls))))
            if concurrency == 1 and first % 64 == 0:
                await asyncio.sleep(0)  # let the shipper run, as between real calls
        elapsed = time.perf_counter() - started
        await log.close()
        await database.close()
    samples.sort()
    return {
        "durability": durability,
        "concurrency": concurrency,
        "calls": calls,
        "p50_us": round(statistics.median(samples), 1),
        "p90_us": round(samples[int(len(samples) * 0.9)], 1),
        "calls_per_s": round(calls / elapsed),
    }


async def ship(url: str | None, batches: int = 300, per_batch: int = 10) -> dict[str, Any]:
    """Event-loop CPU and wall time per shipped call (intent + completion events)."""
    with tempfile.TemporaryDirectory() as work:
        database = Database.from_url(url or f"sqlite:///{work}/bench.db")
        await database.migrate()
        log = AuditLog(
            AuditEventRepository(database),
            Path(work) / "wal",
            flush_interval_s=3600,  # shipped here, by hand, batch by batch
            signer=Signer(Keyring.generate().active("signing")),
            checkpoint_file=Path(work) / "checkpoints.jsonl",
        )
        await log.start()
        cpu: list[float] = []
        wall: list[float] = []
        for batch in range(batches + 30):  # the first 30 warm up
            for n in range(batch * per_batch, (batch + 1) * per_batch):
                rec = record(n)
                await log.intent(rec)
                log.submit(rec)
            cpu_started, started = time.thread_time(), time.perf_counter()
            await log.flush()
            if batch >= 30:
                cpu.append((time.thread_time() - cpu_started) * 1e6 / per_batch)
                wall.append((time.perf_counter() - started) * 1e6 / per_batch)
        await log.close()
        await database.close()
    return {
        "store": "postgresql" if url else "sqlite",
        "calls_per_batch": per_batch,
        "loop_cpu_us_per_call": round(statistics.median(cpu), 1),
        "wall_us_per_call": round(statistics.median(wall), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--postgres", help="also time shipping to this PostgreSQL URL")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    rows = [
        asyncio.run(run("process", args.calls, 1)),
        asyncio.run(run("fsync", min(args.calls, 500), 1)),
        asyncio.run(run("fsync", args.calls, 32)),
    ]
    print(f"{'durability':<10} {'in flight':>9} {'p50 µs':>9} {'p90 µs':>9} {'calls/s':>9}")
    for row in rows:
        print(
            f"{row['durability']:<10} {row['concurrency']:>9} {row['p50_us']:>9} "
            f"{row['p90_us']:>9} {row['calls_per_s']:>9}"
        )
    shipping = [asyncio.run(ship(None))]
    if args.postgres:
        shipping.append(asyncio.run(ship(args.postgres)))
    print(f"\n{'shipping to':<12} {'loop CPU µs/call':>17} {'wall µs/call':>12}")
    for row in shipping:
        print(f"{row['store']:<12} {row['loop_cpu_us_per_call']:>17} {row['wall_us_per_call']:>12}")
    ok = rows[0]["p50_us"] <= GOAL_US
    print(f"goal: process p50 ≤ {GOAL_US:g} µs: {'met' if ok else 'NOT met'}")
    if not args.no_save:
        commit, dirty = git_commit()
        path = write_result(
            "audit",
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": commit,
                "dirty": dirty,
                "goal_us": GOAL_US,
                "rows": rows,
                "shipping": shipping,
            },
        )
        print(f"saved {path}")


if __name__ == "__main__":
    main()
