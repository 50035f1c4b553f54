"""Time one policy decision: the 200-rule policy of bench/policy/rules.py and the example
policy, over calls that find nothing, personal data, a secret and a mix.

    .venv/bin/python -m bench.policy [--rounds N] [--no-save]

Each scenario is decided ``--batch`` times per sample; the p50 and p90 are over samples
(µs per decision). Results go to bench/results/policy-<date>-<commit>.json and the
table in bench/README.md is written from them. The goal (issue #4) is ≤ 20 µs p50 for
a 200-rule policy.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bastion.model.facts import CallFacts
from bastion.policy.loader import Policy
from bench.overhead.results import git_commit, write_result
from bench.policy.rules import SCENARIOS, example_policy, large_policy

GOAL_US = 20.0


def time_decisions(policy: Policy, facts: CallFacts, batch: int, samples: int) -> list[float]:
    """µs per decision, one value per sample of ``batch`` decisions."""
    decide: Callable[..., Any] = policy.decide
    now = time.time()
    for _ in range(batch):  # warm the per-value caches, as a running gateway has them
        decide(facts, (), now)
    found = []
    gc.disable()
    try:
        for _ in range(samples):
            start = time.perf_counter_ns()
            for _ in range(batch):
                decide(facts, (), now)
            found.append((time.perf_counter_ns() - start) / batch / 1000.0)
    finally:
        gc.enable()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="samples per scenario")
    parser.add_argument("--batch", type=int, default=200, help="decisions per sample")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    policies = {"200 rules": large_policy(), "enterprise example": example_policy()}
    rows = []
    for policy_name, policy in policies.items():
        for scenario, facts in SCENARIOS.items():
            samples = time_decisions(policy, facts, args.batch, args.rounds)
            decision = policy.decide(facts)
            p50 = statistics.median(samples)
            p90 = statistics.quantiles(samples, n=10)[-1]
            rows.append(
                {
                    "policy": policy_name,
                    "rules": len(policy.document.rules),
                    "scenario": scenario,
                    "decision": decision.action.value,
                    "p50_us": round(p50, 2),
                    "p90_us": round(p90, 2),
                }
            )
            print(
                f"{policy_name:<20} {scenario:<24} {decision.action.value:<18} "
                f"p50 {p50:6.2f} µs  p90 {p90:6.2f} µs"
            )
    worst = max(r["p50_us"] for r in rows if r["policy"] == "200 rules")
    print(f"200-rule policy, slowest scenario p50: {worst:.2f} µs (goal ≤ {GOAL_US:.0f} µs)")
    if not args.no_save:
        document = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit()[0],
            "batch": args.batch,
            "rounds": args.rounds,
            "goal_p50_us": GOAL_US,
            "rows": rows,
        }
        print(f"saved {write_result('policy', document)}")


if __name__ == "__main__":
    main()
