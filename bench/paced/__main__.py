"""Streaming at a model's pace: when does the caller see the first words?

    .venv/bin/python -m bench.paced [--per-s 50] [--streams 12] [--no-save]

The overhead benchmark's simulator answers as fast as it can, so a whole answer is
there within a millisecond and a window held for scanning costs nothing visible. A
real model writes some 20-100 tokens a second. Here the simulator's ``pace`` fault
sends the answer's events ``--per-s`` a second, and each target streams the same
answer (about 1 KB, ~80 events) in turn: the simulator directly, the floor
(pass-through proxy) and Bastion with the quickstart config and its policy, whose
output rule (answers.secrets) holds text until it is scanned. Per stream: time to the
first byte, to the first text of the answer (the first non-empty ``delta.content``) and
to the end. Streams alternate between targets so drifts of the shared machine land on
all of them.
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

import aiohttp
import orjson

from bench.overhead.results import git_commit, machine, write_result
from bench.overhead.targets import Fleet, Target
from bench.overhead.workload import MODEL

_WORDS = " ".join(f"word{n}" for n in range(150))


def _body(per_s: float, number: int) -> bytes:
    prompt = f"{number:08d} {_WORDS} [[sim:fault=pace,per_s={per_s:g}]]"
    return orjson.dumps(
        {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    )


async def _stream(session: aiohttp.ClientSession, target: Target, body: bytes) -> dict[str, float]:
    """One stream: seconds to the first byte, to the first answer text, to the end."""
    assert target.workload is not None
    begin = time.perf_counter()
    first_byte = first_text = None
    buffered = b""
    async with session.post(target.url, data=body, headers=target.workload.headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{target.name}: status {resp.status}")
        async for piece in resp.content.iter_any():
            now = time.perf_counter()
            first_byte = first_byte if first_byte is not None else now
            if first_text is None:
                buffered += piece
                events, _, buffered = buffered.rpartition(b"\n\n")
                for line in events.split(b"\n"):
                    if line.startswith(b"data: {") and _has_text(orjson.loads(line[6:])):
                        first_text = now
                        break
    end = time.perf_counter()
    if first_byte is None or first_text is None:
        raise RuntimeError(f"{target.name}: the stream carried no text")
    return {
        "ttfb_s": first_byte - begin,
        "first_text_s": first_text - begin,
        "total_s": end - begin,
    }


def _has_text(payload: Any) -> bool:
    choices = payload.get("choices") if isinstance(payload, dict) else None
    return any(
        isinstance(choice, dict) and (choice.get("delta") or {}).get("content")
        for choice in choices or ()
    )


async def _measure(targets: list[Target], per_s: float, streams: int) -> dict[str, list[Any]]:
    runs: dict[str, list[Any]] = {target.name: [] for target in targets}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for number in range(streams):
            order = targets[number % len(targets) :] + targets[: number % len(targets)]
            for target in order:
                runs[target.name].append(await _stream(session, target, _body(per_s, number)))
    return runs


def _summary(rows: list[dict[str, float]]) -> dict[str, float]:
    return {
        f"{key}_p50": statistics.median(row[key] for row in rows)
        for key in ("ttfb_s", "first_text_s", "total_s")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paced", description=__doc__)
    parser.add_argument("--per-s", type=float, default=50.0, help="events a second")
    parser.add_argument("--streams", type=int, default=12, help="streams per target")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    commit, dirty = git_commit()
    with (
        tempfile.TemporaryDirectory(prefix="bastion-paced-") as work,
        Fleet(Path(work), with_litellm=False) as fleet,
    ):
        fleet.start_simulator()
        direct = Target(name="direct", label="direct to the simulator")
        fleet.start_direct(direct)
        floor = Target(name="floor", label="floor: pass-through proxy")
        fleet.start_floor(floor)
        bastion = Target(name="bastion-1w", label="Bastion, 1 worker, quickstart policy")
        fleet.start_bastion(bastion, 1)
        targets = [direct, floor, bastion]
        runs = asyncio.run(_measure(targets, args.per_s, args.streams))
    summary = {name: _summary(rows) for name, rows in runs.items()}
    document = {
        "kind": "paced",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "dirty": dirty,
        "machine": machine(),
        "settings": {"per_s": args.per_s, "streams": args.streams, "answer_words": 150},
        "summary": summary,
        "runs": runs,
    }
    print(f"{args.streams} streams per target at {args.per_s:g} events/s (p50, seconds):")
    for target in targets:
        row = summary[target.name]
        print(
            f"  {target.label:<40} first byte {row['ttfb_s_p50']:.3f}  first text "
            f"{row['first_text_s_p50']:.3f}  end {row['total_s_p50']:.3f}"
        )
    if not args.no_save:
        print(f"saved {write_result('paced', document)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
