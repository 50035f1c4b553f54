"""Time admit + reserve + settle of one call with in-memory counters.

    .venv/bin/python -m bench.limits [--rounds N] [--batch N] [--no-save]

Scenarios: one per-key rule (requests per minute + concurrency), and a realistic set
of four rules (per key; team x environment tokens per minute and monthly USD; per app
daily tokens; per model requests). Each sample runs ``--batch`` complete calls on one
event loop (awaited as the gateway awaits them) over 50 principals; p50 and p90 are
over samples, in µs per call. Goal (issue #6): ≤ 50 µs p50. Results go to
bench/results/limits-<date>-<commit>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from bastion.config.schema import BastionConfig
from bastion.limits.build import build_limiter
from bastion.limits.limiter import ScopedLimiter
from bastion.model import Conversation, Endpoint, Principal, Segment, Source, Usage
from bench.overhead.results import git_commit, write_result

GOAL_US = 50.0
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


def limiter_for(rules: list[dict[str, Any]]) -> ScopedLimiter:
    config = BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "limits": {"rules": rules},
        }
    )
    built = build_limiter(config, None)
    assert built is not None
    return built[0]


async def time_calls(limiter: ScopedLimiter, batch: int, samples: int) -> list[float]:
    principals = [
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
    conversation = Conversation(
        Endpoint.CHAT, "gpt-4o-mini", (segment,), params={"max_tokens": 512}
    )
    usage = Usage(500, 400)

    async def one(principal: Principal) -> None:
        admitted = await limiter.admit(principal)
        reservation = await limiter.reserve(principal, conversation, "gpt-4o-mini", admitted)
        await limiter.settle(principal, reservation, usage)

    for principal in principals * 20:  # warm the plan caches, as a running gateway has them
        await one(principal)
    found = []
    gc.disable()
    try:
        for _ in range(samples):
            start = time.perf_counter_ns()
            for i in range(batch):
                await one(principals[i % 50])
            found.append((time.perf_counter_ns() - start) / batch / 1000.0)
    finally:
        gc.enable()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="samples per scenario")
    parser.add_argument("--batch", type=int, default=200, help="calls per sample")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    rows = []
    for name, rules in SCENARIOS.items():
        samples = asyncio.run(time_calls(limiter_for(rules), args.batch, args.rounds))
        p50 = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        rows.append({"scenario": name, "p50_us": round(p50, 2), "p90_us": round(p90, 2)})
        print(f"{name:<64} p50 {p50:6.2f} µs  p90 {p90:6.2f} µs  (goal ≤ {GOAL_US:.0f} µs)")
    if not args.no_save:
        document = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit()[0],
            "batch": args.batch,
            "rounds": args.rounds,
            "goal_p50_us": GOAL_US,
            "rows": rows,
        }
        print(f"saved {write_result('limits', document)}")


if __name__ == "__main__":
    main()
