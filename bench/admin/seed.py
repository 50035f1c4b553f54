"""Seed a database with generated call records: 30 days of traffic with a daily rhythm,
200 keys over 40 apps and 12 teams in three environments, mostly allowed calls, some
redacted or blocked, findings on about one call in five, a few injections and
exception uses, and a long-tailed gateway overhead.

Records go in with one bulk statement per chunk (SQLite: ``executemany`` in one
transaction; PostgreSQL: ``COPY``), so the rollup triggers count them as they would
any insert. Seeded databases are kept (SQLite files and PostgreSQL databases named by
the record count and seed) and reused while their record count matches.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import text

from bastion.storage.database import Database
from bastion.storage.tables import CallRecordRow

DAY_S = 86400.0
DAYS = 30
CACHE_DIR = Path("/tmp/bastion-bench-admin")
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
COLUMNS = tuple(column.name for column in CallRecordRow.__table__.columns)
JSON_COLUMNS = frozenset({"roles", "findings", "rules", "request_facts"})
# Calls per hour of the day (UTC), relative: quiet nights, busy office hours.
DAILY = (2, 1, 1, 1, 1, 2, 4, 8, 12, 14, 15, 15, 13, 14, 15, 14, 12, 9, 6, 5, 4, 3, 3, 2)
DECISIONS = {"allow": 84.5, "redact": 8, "block": 4, "reroute": 2, "require_exception": 1.5}
ENVIRONMENTS = {"prod": 70, "staging": 20, "dev": 10}
MODELS = {"gpt-4o-mini": 70, "gpt-4o": 25, "internal-llama": 5}
CLASSES = ("pii.email", "pii.phone", "pii.iban", "secret.aws_access_key", "secret.github_token")
INJECTIONS = ("injection.direct", "injection.indirect", "injection.jailbreak")
SOURCES = ("user", "user", "user", "retrieved", "tool_result", "system")


@dataclass(frozen=True, slots=True)
class Seeded:
    """A seeded database: its URL and the end of the generated 30 days (epoch s)."""

    url: str
    end: float
    seconds: float  # time taken to seed (0.0 when reused)


@dataclass(frozen=True, slots=True)
class Key:
    key_id: str
    app: str
    team: str
    environment: str
    owner: str | None
    user: str | None


def keys(rng: random.Random) -> list[Key]:
    """200 keys over 40 apps (each of one team and owner) and 12 teams."""
    apps = [(f"app-{n:02d}", f"team-{n % 12:02d}", f"owner-{n % 15:02d}") for n in range(40)]
    found = []
    for n in range(200):
        app, team, owner = rng.choice(apps)
        environment = _weighted(rng, ENVIRONMENTS)
        user = f"user-{rng.randrange(500):03d}" if rng.random() < 0.3 else None
        found.append(Key(f"k_{n:08x}", app, team, environment, owner, user))
    return found


def rows(count: int, seed: int, end: float) -> Iterator[dict[str, Any]]:
    """``count`` records over the 30 days before ``end``, oldest first."""
    rng = random.Random(seed)
    population = keys(rng)
    popular = [1.0 / (rank + 1) for rank in range(len(population))]  # Zipf-like use
    hours = [hour for hour in range(24) for _ in range(DAILY[hour])]
    start = end - DAYS * DAY_S
    day_start = start - start % DAY_S
    times = []
    for _ in range(count):
        while True:
            at = day_start + rng.randrange(DAYS + 1) * DAY_S + rng.choice(hours) * 3600.0
            at += rng.random() * 3600.0
            if start <= at < end:
                break
        times.append(at)
    times.sort()
    for at in times:
        key = rng.choices(population, popular)[0]
        yield _record(rng, key, at)


def _record(rng: random.Random, key: Key, at: float) -> dict[str, Any]:
    decision = _weighted(rng, DECISIONS)
    refused = decision in ("block", "require_exception")
    model = _weighted(rng, MODELS)
    findings = []
    if decision in ("redact", "block") or rng.random() < 0.12:
        for _ in range(rng.choice((1, 1, 2, 3))):
            findings.append(_finding(rng, rng.choice(CLASSES)))
    if rng.random() < 0.02:
        findings.append(_finding(rng, rng.choice(INJECTIONS)))
    facts: dict[str, Any] = {
        "segments": [["system", rng.randrange(50, 400)], ["user", rng.randrange(20, 4000)]],
        "tools": [],
        "unscanned": [],
        "untrusted_marks": 0,
        "class_set": "4f3c2a1b",
    }
    rules: list[str] = []
    if decision == "redact" or (decision == "reroute" and rng.random() < 0.5):
        facts["redacted"] = {"pii.email": 1}
        rules.append("pii.redact")
    if decision == "block":
        rules.append("secrets.block")
    if decision == "allow" and rng.random() < 0.006:
        facts["exception_applied"] = f"exc_{rng.randrange(25):04d}"
        rules.append("secrets.block")
    prompt = 0 if refused else rng.randrange(50, 4000)
    completion = 0 if refused else rng.randrange(10, 1500)
    return {
        "request_id": f"req_{rng.getrandbits(96):024x}",
        "started_at": at,
        "endpoint": "chat.completions",
        "key_id": key.key_id,
        "name": key.app,
        "user": key.user,
        "app": key.app,
        "team": key.team,
        "environment": key.environment,
        "roles": ["app"],
        "owner": key.owner,
        "model_requested": model,
        "model_used": model,
        "provider": "internal" if model.startswith("internal") else "openai",
        "decision": decision,
        "status": "blocked" if refused else "completed",
        "http_status": 403 if refused else 200,
        "error_code": "policy_blocked" if refused else None,
        "stream": rng.random() < 0.4,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "usage_estimated": False,
        "gateway_ms": rng.lognormvariate(-0.3, 0.6),
        "upstream_ms": 0.0 if refused else rng.lognormvariate(6.0, 0.7),
        "findings": findings,
        "rules": rules,
        "policy_version": "default@prod+0123456789ab",
        "cost_usd": None if refused else (prompt * 0.15 + completion * 0.6) / 1e6,
        "end_user_claimed": None,
        "client_addr": f"10.0.{rng.randrange(4)}.{rng.randrange(1, 250)}",
        "request_facts": facts,
    }


def _finding(rng: random.Random, data_class: str) -> dict[str, Any]:
    return {
        "data_class": data_class,
        "source": rng.choice(SOURCES),
        "location": f"messages.{rng.randrange(4)}.content",
        "count": rng.choice((1, 1, 1, 2, 3)),
        "score": round(rng.uniform(0.6, 1.0), 2),
    }


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _tuples(count: int, seed: int, end: float) -> Iterator[tuple[Any, ...]]:
    for row in rows(count, seed, end):
        for name in JSON_COLUMNS:
            row[name] = orjson.dumps(row[name]).decode()
        yield tuple(row[name] for name in COLUMNS)


def _chunks(items: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def seed_sqlite(count: int, seed: int) -> Seeded:
    """A SQLite file of ``count`` records (reused when already seeded)."""
    path = CACHE_DIR / f"admin-{count}-{seed}.db"
    meta = path.with_suffix(".json")
    url = f"sqlite:///{path}"
    end = _seeded_end(meta) if path.is_file() else None
    if end is not None:
        database = Database.from_url(url)
        await database.migrate()  # a cache from before a new migration catches up
        await database.close()
        if _sqlite_count(path) == count:
            return Seeded(url, end, 0.0)
    _remove(path)
    end = time.time()
    database = Database.from_url(url)
    await database.migrate()
    await database.close()
    started = time.perf_counter()
    insert = (
        f"INSERT INTO call_records ({', '.join(_quoted(c) for c in COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in COLUMNS)}) ON CONFLICT (request_id) DO NOTHING"
    )
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        with connection:
            for chunk in _chunks(_tuples(count, seed, end), 50_000):
                connection.executemany(insert, chunk)
        connection.execute("ANALYZE")
    finally:
        connection.close()
    _save_end(meta, end, count, seed)
    return Seeded(url, end, time.perf_counter() - started)


async def seed_postgresql(count: int, seed: int) -> Seeded | None:
    """A PostgreSQL database of ``count`` records (reused when already seeded); None
    when no server answers on 127.0.0.1:5432."""
    name = f"bastion_bench_admin_{count}_{seed}"
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    meta = CACHE_DIR / f"{name}.json"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    except (OSError, TimeoutError):
        return None
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        end = _seeded_end(meta) if exists else None
        if end is not None:
            database = Database.from_url(url)
            await database.migrate()
            await database.close()
            connection = await asyncpg.connect(url)
            stored = await connection.fetchval("SELECT count(*) FROM call_records")
            await connection.close()
            if stored == count:
                return Seeded(url, end, 0.0)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    end = time.time()
    database = Database.from_url(url)
    await database.migrate()
    await database.close()
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        for chunk in _chunks(_tuples(count, seed, end), 50_000):
            await connection.copy_records_to_table("call_records", records=chunk, columns=COLUMNS)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    _save_end(meta, end, count, seed)
    return Seeded(url, end, time.perf_counter() - started)


LEDGER = (
    'INSERT INTO spend_ledger (settled_at, key_id, "user", app, team, environment, model,'
    " prompt_tokens, completion_tokens, cost_pusd, estimated)"
    ' SELECT started_at + upstream_ms / 1000.0, key_id, "user", app, team, environment,'
    " model_used, prompt_tokens, completion_tokens, CAST(cost_usd * 1e12 AS BIGINT), false"
    " FROM call_records WHERE status = 'completed' ORDER BY started_at"
)


async def vacuum(url: str) -> None:
    """PostgreSQL: clear the dead row versions that seeding left in the rollup tables
    (each insert updated a rollup row; with inserts at a real rate autovacuum keeps
    these small tables compact) and refresh the planner's statistics."""
    if not url.startswith("postgresql"):
        return
    connection = await asyncpg.connect(url)
    try:
        for table in ("call_hourly", "exception_hourly", "overhead_hourly", "injection_hourly"):
            await connection.execute(f"VACUUM (ANALYZE) {table}")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def fill_ledger(url: str) -> int:
    """Settle every completed call in the spend ledger, once (as the gateway would have);
    the number of ledger rows."""
    database = Database.from_url(url)
    try:
        async with database.transaction("bench ledger") as session:
            count = int(await session.scalar(text("SELECT count(*) FROM spend_ledger")) or 0)
            if count == 0:
                await session.execute(text(LEDGER))
                count = int(await session.scalar(text("SELECT count(*) FROM spend_ledger")) or 0)
                await session.execute(text("ANALYZE"))
    finally:
        await database.close()
    return count


def _seeded_end(meta: Path) -> float | None:
    """The end of a seeded database's 30 days, or None when it was never completed."""
    if not meta.is_file():
        return None
    return float(json.loads(meta.read_text())["end"])


def _save_end(meta: Path, end: float, count: int, seed: int) -> None:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"end": end, "count": count, "seed": seed}))


def _remove(path: Path) -> None:
    """Delete a SQLite file with its journal files and description."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for stale in CACHE_DIR.glob(f"{path.stem}.*"):
        stale.unlink()


def _quoted(column: str) -> str:
    return f'"{column}"'


def _sqlite_count(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT count(*) FROM call_records").fetchone()[0])
    finally:
        connection.close()
