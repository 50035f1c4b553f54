"""Time the admin API's overview and audit search over a million call records.

    .venv/bin/python -m bench.admin [--records N] [--seed S] [--repeats R] [--no-save]
                                    [--no-postgres]

Seeds N generated records (``bench/admin/seed.py``; default 1,000,000, kept for reuse
under /tmp/bastion-bench-admin and in PostgreSQL databases ``bastion_bench_admin_*``)
into SQLite and, when it answers on 127.0.0.1:5432, PostgreSQL. Then, through the real
admin API app in-process (httpx ASGI transport, an auditor token), it requests each
overview endpoint for the last 24 hours and the last 30 days of the data, and the audit
search's first page unfiltered and filtered, R times each. Overview requests run in
pairs: answered from the hourly rollups (as served) and from the records alone (the
rollups switched off in-process: the grouped queries as they were before them), in
alternating order, and their answers are checked equal; the spend by team's storage
call likewise, from the daily spend rollup and from the spend ledger alone. Goal
(issue 8): every request ≤ 300 ms p50 and p95 at 1M records. Results go to
bench/results/admin-<date>-<commit>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import load_keyring
from bastion.identity.admin import AdminRole, new_admin_token
from bastion.server.app import create_apps
from bastion.storage import call_stats, spend_usage
from bastion.storage.admin_tokens import AdminTokenRepository
from bench.admin.seed import CACHE_DIR, Seeded, fill_ledger, seed_postgresql, seed_sqlite, vacuum
from bench.overhead.results import git_commit, write_result

GOAL_MS = 300.0
HOUR_S = 3600.0
DAY_S = 86400.0
SPEND = "spend by team, 30d (storage call)"


def cases(end: float) -> list[tuple[str, str, dict[str, Any], bool]]:
    """(name, path, query, overview?) of every timed request; ``end`` closes the ranges
    (like a request's "now")."""

    def window(span_s: float) -> dict[str, Any]:
        return {"since": _iso(end - span_s), "until": _iso(end)}

    day, week, month = window(DAY_S), window(7 * DAY_S), window(30 * DAY_S)
    return [  # the console's ranges: 24h in hours, 7d in 6 hours, 30d in days
        ("calls 24h, hourly", "/metrics/calls", {**day, "bucket_s": HOUR_S}, True),
        ("calls 7d, 6-hourly", "/metrics/calls", {**week, "bucket_s": 6 * HOUR_S}, True),
        ("calls 30d, daily", "/metrics/calls", {**month, "bucket_s": DAY_S}, True),
        ("calls 30d, hourly", "/metrics/calls", {**month, "bucket_s": HOUR_S}, True),
        ("injections 24h", "/metrics/injections", day, True),
        ("injections 7d", "/metrics/injections", week, True),
        ("injections 30d", "/metrics/injections", month, True),
        ("exceptions 24h", "/metrics/exceptions", day, True),
        ("exceptions 7d", "/metrics/exceptions", week, True),
        ("exceptions 30d", "/metrics/exceptions", month, True),
        ("overhead 24h", "/metrics/overhead", day, True),
        ("overhead 7d", "/metrics/overhead", week, True),
        ("overhead 30d", "/metrics/overhead", month, True),
        ("audit search, first page", "/audit/events", {"limit": 50}, False),
        (
            "audit search, team + decision",
            "/audit/events",
            {"limit": 50, "team": "team-03", "decision": "block"},
            False,
        ),
        (
            "audit search, data class + env",
            "/audit/events",
            {"limit": 50, "class": "injection.*", "environment": "prod"},
            False,
        ),
        ("audit search, rule", "/audit/events", {"limit": 50, "rule": "secrets.block"}, False),
    ]


@contextmanager
def records_only() -> Iterator[None]:
    """Answer every aggregate from the records and the spend ledger alone (the
    rollups ignored)."""
    original, original_plan = call_stats._window, spend_usage._plan
    call_stats._window = lambda where: None
    spend_usage._plan = lambda since, until, filters, owned: None
    try:
        yield
    finally:
        call_stats._window, spend_usage._plan = original, original_plan


def config(url: str) -> BastionConfig:
    """A gateway whose only real part here is the admin API over ``url``."""
    keyring = CACHE_DIR / "keyring.json"
    load_keyring(keyring, generate=True)  # a shared database needs a configured one
    return BastionConfig.model_validate(
        {
            "storage": {"url": url},
            "crypto": {"keyring_file": str(keyring)},
            "providers": {
                "sim": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-x"}
            },
            "models": {"gpt-4o-mini": {"targets": [{"provider": "sim", "model": "gpt-4o-mini"}]}},
            "detectors": {"second_tier": {"enabled": False}},
        }
    )


async def measure(backend: str, seeded: Seeded, repeats: int) -> list[dict[str, Any]]:
    apps = create_apps(config(seeded.url))
    await apps.runtime.start()
    try:
        record, token = new_admin_token("bench", AdminRole.AUDITOR)
        await AdminTokenRepository(apps.runtime.database).create(record)
        transport = httpx.ASGITransport(app=apps.admin)
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://admin", headers=headers, timeout=120
        ) as client:

            async def timed(path: str, query: dict[str, Any]) -> tuple[float, Any]:
                started = time.perf_counter()
                response = await client.get(f"/admin/api{path}", params=query)
                elapsed = (time.perf_counter() - started) * 1000.0
                response.raise_for_status()
                return elapsed, response.json()

            # ranges end half past an hour: the worst case for the rollups, whose
            # cut hours are read raw for their smaller side (here half an hour)
            timed_cases = cases(seeded.end - seeded.end % HOUR_S - HOUR_S / 2)
            spend = apps.admin.api.state.admin_context.spend
            samples: dict[tuple[str, str], list[float]] = {}
            for round_ in range(repeats + 1):  # round 0 warms up
                for name, path, query, overview in timed_cases:
                    modes = ("rollups", "records") if overview else ("rollups",)
                    if round_ % 2:
                        modes = modes[::-1]
                    answers = {}
                    for mode in modes:
                        if mode == "records":
                            with records_only():
                                elapsed, answers[mode] = await timed(path, query)
                        else:
                            elapsed, answers[mode] = await timed(path, query)
                        if round_:
                            samples.setdefault((name, mode), []).append(elapsed)
                    if overview and _canonical(answers["rollups"]) != _canonical(
                        answers["records"]
                    ):
                        raise AssertionError(f"{backend} {name}: rollups and records differ")
                # the spend overview's query for a month 30 days old (the endpoint's
                # month starts at the real date's first day), paired with the ledger
                # alone like the requests above
                since = seeded.end - 30 * DAY_S
                sums = {}
                for mode in ("records", "rollups")[:: 1 if round_ % 2 else -1]:
                    started = time.perf_counter()
                    if mode == "records":
                        with records_only():
                            groups = await spend.grouped(since=since, until=None, group_by=["team"])
                    else:
                        groups = await spend.grouped(since=since, until=None, group_by=["team"])
                    elapsed = (time.perf_counter() - started) * 1000.0
                    sums[mode] = groups
                    if round_:
                        samples.setdefault((SPEND, mode), []).append(elapsed)
                if sums["rollups"] != sums["records"]:
                    raise AssertionError(f"{backend} {SPEND}: rollup and ledger differ")
    finally:
        await apps.runtime.close()
    rows = []
    for name, _, _, overview in [*timed_cases, (SPEND, "", {}, True)]:
        row: dict[str, Any] = {"backend": backend, "request": name}
        for mode in ("rollups", "records") if overview else ("rollups",):
            found = sorted(samples[(name, mode)])
            row[mode] = {
                "p50_ms": round(statistics.median(found), 1),
                "p95_ms": round(found[min(len(found) - 1, round(0.95 * (len(found) - 1)))], 1),
            }
        rows.append(row)
    return rows


def _canonical(answer: Any) -> Any:
    """An answer with its lists sorted (both sides group the same rows, maybe in another
    order of ties)."""
    if isinstance(answer, dict):
        return {key: _canonical(value) for key, value in answer.items()}
    if isinstance(answer, list):
        return sorted((_canonical(item) for item in answer), key=repr)
    return answer


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def report(rows: list[dict[str, Any]]) -> list[str]:
    """Print the table; the requests that missed the goal (p95)."""
    print(
        f"{'backend':<10} {'request':<36} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'raw p50':>8} {'raw p95':>8} {'speed-up':>9}"
    )
    missed = []
    for row in rows:
        served = row["rollups"]
        raw = row.get("records")
        if served["p95_ms"] > GOAL_MS:
            missed.append(f"{row['backend']} {row['request']}")
        extra = ""
        if raw is not None:
            ratio = raw["p50_ms"] / served["p50_ms"] if served["p50_ms"] else 0.0
            extra = f" {raw['p50_ms']:>8} {raw['p95_ms']:>8} {ratio:>8.1f}x"
        print(
            f"{row['backend']:<10} {row['request']:<36}"
            f" {served['p50_ms']:>8} {served['p95_ms']:>8}{extra}"
        )
    print(f"goal: every request ≤ {GOAL_MS:g} ms at p95; missed by: {missed or 'none'}")
    return missed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    seeds: dict[str, Any] = {}
    rows = []
    backends: list[tuple[str, Seeded | None]] = [
        ("sqlite", await seed_sqlite(args.records, args.seed))
    ]
    if not args.no_postgres:
        backends.append(("postgresql", await seed_postgresql(args.records, args.seed)))
    for backend, seeded in backends:
        if seeded is None:
            print(f"{backend}: not reachable, skipped")
            continue
        ledger = await fill_ledger(seeded.url)
        await vacuum(seeded.url)
        seeds[backend] = {"seed_s": round(seeded.seconds, 1), "ledger_rows": ledger}
        if seeded.seconds:
            rate = args.records / seeded.seconds
            print(f"{backend}: seeded {args.records:,} records in {seeded.seconds:.0f} s", end="")
            print(f" ({rate:,.0f} records/s, rollup triggers included)")
        rows += await measure(backend, seeded, args.repeats)
    return {"seeding": seeds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    missed = report(result["rows"])
    if not args.no_save:
        commit, dirty = git_commit()
        path = write_result(
            "admin",
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": commit,
                "dirty": dirty,
                "records": args.records,
                "seed": args.seed,
                "repeats": args.repeats,
                "goal_ms": GOAL_MS,
                "goal_missed": missed,
                **result,
            },
        )
        print(f"saved {path}")


if __name__ == "__main__":
    main()
