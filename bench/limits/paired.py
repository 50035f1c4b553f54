"""The limits bench, this tree against a git revision, samples interleaved in one process.

    .venv/bin/python -m bench.limits.paired [--rev HEAD] [--store memory|redis]
                                            [--rounds N] [--batch N] [--redis-url URL]

``src/bastion/limits`` at ``--rev`` is copied into a temporary package (its imports of
``bastion.limits`` pointed at the copy; everything else it imports is this tree's), and
both limiters run the same calls as ``python -m bench.limits``, sample for sample, in
alternating order, so machine noise hits both alike. Prints, per scenario, the p50 of
whole calls, of admit + reserve and of CPU for each side, and the median of the
per-round ratios new / old.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from bastion.config.schema import BastionConfig
from bench.limits.__main__ import SCENARIOS, Calls, drop_keys

ROOT = Path(__file__).resolve().parents[2]


def limits_at(rev: str, into: Path) -> ModuleType:
    """``bastion.limits.build`` as it was at ``rev``, importable beside this tree's."""
    name = f"limits_at_{uuid.uuid4().hex[:8]}"
    package = into / name
    package.mkdir()
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "src/bastion/limits/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for path in listing:
        if not path.endswith(".py"):
            continue
        text = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        text = text.replace("bastion.limits.", f"{name}.").replace(
            "from bastion.limits import", f"from {name} import"
        )
        (package / Path(path).name).write_text(text)
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{name}.build")


def limiter(build: ModuleType, rules: list[dict[str, Any]], store: str, redis_url: str) -> Any:
    config = BastionConfig.model_validate(
        {
            "providers": {"p": {"kind": "openai", "base_url": "http://x/v1"}},
            "models": {"gpt-4o-mini": {"targets": [{"provider": "p", "model": "gpt-4o-mini"}]}},
            "redis": {"url": redis_url, "key_prefix": f"bastion-bench:{uuid.uuid4().hex[:8]}:"},
            "limits": {"rules": rules, "store": store},
        }
    )
    return build.build_limiter(config, None)[0]


async def paired(
    builds: dict[str, ModuleType], rules: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, list[tuple[float, float, float]]]:
    calls = {
        side: Calls(limiter(b, rules, args.store, args.redis_url)) for side, b in builds.items()
    }
    try:
        for runner in calls.values():
            await runner.warm()
        found: dict[str, list[tuple[float, float, float]]] = {side: [] for side in calls}
        order = list(calls.items())
        gc.disable()
        try:
            for _ in range(args.rounds):
                for side, runner in order:
                    found[side].append(await runner.sample(args.batch))
                order.reverse()
        finally:
            gc.enable()
        return found
    finally:
        if args.store == "redis":
            for runner in calls.values():
                await drop_keys(args.redis_url, runner.limiter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="the git revision to compare against")
    parser.add_argument("--store", choices=["memory", "redis"], default="memory")
    parser.add_argument("--rounds", type=int, default=200, help="samples per side")
    parser.add_argument("--batch", type=int, default=200, help="calls per sample")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    import uvloop

    with tempfile.TemporaryDirectory() as tmp:
        builds = {
            "old": limits_at(args.rev, Path(tmp)),
            "new": importlib.import_module("bastion.limits.build"),
        }
        print(f"limits at {args.rev} (old) against this tree (new), {args.store} store")
        for name, rules in SCENARIOS.items():
            found = uvloop.run(paired(builds, rules, args))
            p50 = {
                side: [statistics.median(s[i] for s in samples) for i in range(3)]
                for side, samples in found.items()
            }
            ratio = statistics.median(
                n[0] / o[0] for o, n in zip(found["old"], found["new"], strict=True)
            )
            print(
                f"{name}\n  "
                + "  ".join(
                    f"{side}: p50 {w:.1f} µs, admit+reserve {p:.1f} µs, cpu {c:.1f} µs"
                    for side, (w, p, c) in p50.items()
                )
                + f"\n  new / old, median of paired samples: {ratio:.3f}"
            )


if __name__ == "__main__":
    main()
