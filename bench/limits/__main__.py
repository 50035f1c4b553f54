"""Time admit + reserve + settle of one call with in-memory, SQLite-file and Redis counters.

    .venv/bin/python -m bench.limits [--store memory|redis|sqlite|both|workers]
                                     [--rounds N] [--batch N] [--redis-url URL] [--no-save]

Scenarios: one per-key rule (requests per minute + concurrency), and a realistic set
of four rules (per key; team x environment tokens per minute and monthly USD; per app
daily tokens; per model requests). Each sample runs ``--batch`` complete calls on one
uvloop event loop (as the gateway runs) over 50 principals, awaited one after another,
reading the reservation's rate-limit headers once as the gateway does;
p50 and p90 are over samples, in µs per call; "admit+reserve" is the part before the
upstream call (settle runs after the response is sent), "cpu" this process's CPU time
per call. With ``both``, memory and Redis samples alternate within one run, so machine
noise hits both alike; with ``workers``, memory and the sqlite store (the file several
workers share without Redis), its calls on the event loop (``sqlite``) and on a thread
of their own (``sqlite-thread``), alternate the same way; the file is in a temporary
directory. Redis keys go under a
fresh ``bastion-bench:<id>:`` prefix and are deleted afterwards. Goals (issue #6):
≤ 50 µs p50 in memory, ≤ 1 ms p50 with Redis on loopback. Results go to
bench/results/limits-<date>-<commit>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.config.schema import BastionConfig
from bastion.limits.build import build_limiter
from bastion.limits.limiter import ScopedLimiter
from bastion.limits.sqlite_store import SqliteCounterStore
from bastion.model import Conversation, Endpoint, Principal, Segment, Source, Usage
from bench.overhead.results import git_commit, write_result

GOALS_US = {"memory": 50.0, "redis": 1000.0, "sqlite": 1000.0, "sqlite-thread": 1000.0}
REDIS_BATCH_SHARE = 4  # shared-store samples run batch / 4 calls: each costs ~4 round trips
PROMPT = ("Please summarise the attached quarterly figures for the board. " * 32)[:2048]

SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "1 rule (rpm + concurrency per key)": [
        {"scope": ["key"], "requests_per_minute": 10**9, "concurrent_requests": 10**6}
    ],
    "4 rules (key, team x env budget + tpm, app tokens, model rpm)": [
        {"scope": ["key"], "requests_per_minute": 10**9, "concurrent_requests": 10**6},
        {
            "scope": ["team", "environment"],
            "tokens_per_minute": 10**12,
            "budgets": [{"period": "month", "usd": 10**6}],
        },
        {"scope": ["app"], "budgets": [{"period": "day", "tokens": 10**15}]},
        {"scope": ["model"], "requests_per_minute": 10**9},
    ],
}


def limiter_for(
    rules: list[dict[str, Any]], store: str, redis_url: str, work: Path | None = None
) -> ScopedLimiter:
    """A limiter over ``store``; the sqlite stores keep their file in ``work``."""
    limits: dict[str, Any] = {"rules": rules, "store": store.removesuffix("-thread")}
    if store.startswith("sqlite"):
        assert work is not None
        limits["sqlite_file"] = str(work / f"{store}-{uuid.uuid4().hex[:8]}.db")
    config = BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "redis": {"url": redis_url, "key_prefix": f"bastion-bench:{uuid.uuid4().hex[:8]}:"},
            "limits": limits,
        }
    )
    built = build_limiter(config, None)
    assert built is not None
    limiter = built[0]
    if store == "sqlite-thread":  # the same file, its calls on a thread of their own
        limiter.store = SqliteCounterStore(Path(limits["sqlite_file"]), offload=True)
    return limiter


async def drop_keys(redis_url: str, limiter: ScopedLimiter) -> None:
    """Delete what a Redis-backed limiter wrote, and close it."""
    from redis.asyncio import Redis

    prefix = limiter.store._prefix  # type: ignore[attr-defined]
    await limiter.store.close()
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


class Calls:
    """Complete calls (admit, reserve, settle) of 50 principals against one limiter."""

    def __init__(self, limiter: ScopedLimiter) -> None:
        self.limiter = limiter
        self.principals = [
            Principal(
                key_id=f"k{i:07d}",
                name="bench",
                app=f"app{i % 7}",
                team=f"team{i % 5}",
                environment="prod",
            )
            for i in range(50)
        ]
        segment = Segment(PROMPT, Source.USER, ("messages", 0, "content"), message_index=0)
        self.conversation = Conversation(
            Endpoint.CHAT, "gpt-4o-mini", (segment,), params={"max_tokens": 512}
        )
        self.usage = Usage(500, 400)
        self.headers: dict[str, str] = {}

    async def one(self, principal: Principal) -> int:
        """One call; returns the ns of admit + reserve (settle runs after the response)."""
        limiter = self.limiter
        start = time.perf_counter_ns()
        admitted = await limiter.admit(principal)
        reservation = await limiter.reserve(principal, self.conversation, "gpt-4o-mini", admitted)
        path = time.perf_counter_ns() - start
        self.headers = reservation.headers  # the gateway puts them on every reply
        await limiter.settle(principal, reservation, self.usage)
        return path

    async def warm(self) -> None:
        """Fill the plan caches (and the Redis pool), as a running gateway has them."""
        for principal in self.principals * 20:
            await self.one(principal)

    async def sample(self, batch: int) -> tuple[float, float, float]:
        """µs per call over ``batch`` calls: whole calls, their request path, and the
        CPU time this process spent on them."""
        path = 0
        cpu = time.process_time_ns()
        start = time.perf_counter_ns()
        for i in range(batch):
            path += await self.one(self.principals[i % 50])
        elapsed = time.perf_counter_ns() - start
        cpu = time.process_time_ns() - cpu
        return elapsed / batch / 1000.0, path / batch / 1000.0, cpu / batch / 1000.0


async def time_scenario(
    rules: list[dict[str, Any]], stores: list[str], args: argparse.Namespace
) -> dict[str, list[tuple[float, float, float]]]:
    """Samples per store, alternating between the stores round by round."""
    work = Path(tempfile.mkdtemp(prefix="bastion-bench-limits-"))
    calls = {store: Calls(limiter_for(rules, store, args.redis_url, work)) for store in stores}
    try:
        for runner in calls.values():
            await runner.warm()
        found: dict[str, list[tuple[float, float, float]]] = {store: [] for store in stores}
        gc.disable()
        try:
            for _ in range(args.rounds):
                for store, runner in calls.items():
                    batch = args.batch if store == "memory" else args.batch // REDIS_BATCH_SHARE
                    found[store].append(await runner.sample(max(batch, 1)))
        finally:
            gc.enable()
        return found
    finally:
        if "redis" in calls:
            await drop_keys(args.redis_url, calls["redis"].limiter)
        for store in ("sqlite", "sqlite-thread"):
            if store in calls:
                await calls[store].limiter.store.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="samples per scenario")
    parser.add_argument("--batch", type=int, default=200, help="calls per memory sample")
    parser.add_argument(
        "--store", choices=["memory", "redis", "sqlite", "both", "workers"], default="both"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    stores = {
        "both": ["memory", "redis"],
        "workers": ["memory", "sqlite", "sqlite-thread"],
    }.get(args.store, [args.store])
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        run = asyncio.run
    rows = []
    for name, rules in SCENARIOS.items():
        by_store = run(time_scenario(rules, stores, args))
        for store, samples in by_store.items():
            whole = [total for total, _, _ in samples]
            p50, p90 = statistics.median(whole), statistics.quantiles(whole, n=10)[-1]
            path_p50 = statistics.median(path for _, path, _ in samples)
            cpu_p50 = statistics.median(cpu for _, _, cpu in samples)
            rows.append(
                {
                    "scenario": name,
                    "store": store,
                    "p50_us": round(p50, 2),
                    "p90_us": round(p90, 2),
                    "request_path_p50_us": round(path_p50, 2),
                    "cpu_p50_us": round(cpu_p50, 2),
                }
            )
            print(
                f"{name:<62} {store:<13} p50 {p50:7.1f} µs  p90 {p90:7.1f} µs  "
                f"admit+reserve {path_p50:6.1f} µs  cpu {cpu_p50:6.1f} µs  "
                f"(goal ≤ {GOALS_US[store]:.0f} µs)"
            )
    if not args.no_save:
        document = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit()[0],
            "batch": args.batch,
            "redis_batch": args.batch // REDIS_BATCH_SHARE,
            "rounds": args.rounds,
            "loop": run.__module__,
            "goal_p50_us": GOALS_US,
            "rows": rows,
        }
        print(f"saved {write_result('limits', document)}")


if __name__ == "__main__":
    main()
