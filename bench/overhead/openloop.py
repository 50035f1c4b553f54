"""Latency clients on asyncio + aiohttp: an open-loop generator and a streaming prober.

The open-loop generator schedules request ``i`` at ``start + i / rate`` whatever happened
to earlier requests, and measures each latency from that intended send time, so a slow
answer cannot hold back the next send and hide queueing (no coordinated omission). It
records how late each send actually left (``send_lag``) and the achieved send rate, so
a report can show the generator was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import aiohttp

from bench.overhead.stats import quantile
from bench.overhead.workload import Workload


@dataclass(frozen=True, slots=True)
class OpenLoopResult:
    """Latencies (ms, from intended send time) of the successful calls at a fixed rate."""

    rate_rps: float
    sent: int
    errors: int
    achieved_rps: float
    latencies_ms: tuple[float, ...]
    send_lag_p50_ms: float
    send_lag_p99_ms: float

    def latency(self, q: float) -> float:
        """The ``q`` quantile of latency in ms."""
        return quantile(self.latencies_ms, q)


@dataclass(frozen=True, slots=True)
class StreamResult:
    """Time to first body byte and to the end of each streamed answer (ms)."""

    errors: int
    ttfb_ms: tuple[float, ...]
    total_ms: tuple[float, ...]


def _session(timeout_s: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        auto_decompress=False,
        skip_auto_headers=("User-Agent",),
    )


async def _timed_call(
    session: aiohttp.ClientSession, url: str, body: bytes, workload: Workload, intended: float
) -> float | None:
    try:
        async with session.post(url, data=body, headers=workload.headers) as resp:
            await resp.read()
            if resp.status != 200:
                return None
    except (aiohttp.ClientError, TimeoutError):
        return None
    return (time.perf_counter() - intended) * 1000


async def open_loop(
    url: str, workload: Workload, *, rate_rps: float, duration_s: float, timeout_s: float = 10.0
) -> OpenLoopResult:
    """Send non-streaming calls at ``rate_rps`` for ``duration_s``; latency per call."""
    count = max(1, int(rate_rps * duration_s))
    interval = 1.0 / rate_rps
    async with _session(timeout_s) as session:
        # open a few keep-alive connections first so the schedule does not start cold
        first = random.randrange(100_000_000)  # prompts new to the target (workload.numbered())
        await asyncio.gather(
            *(_timed_call(session, url, workload.chat(first + n), workload, 0.0) for n in range(4))
        )
        tasks: list[asyncio.Task[float | None]] = []
        lags: list[float] = []
        start = time.perf_counter() + 0.01
        for index in range(count):
            intended = start + index * interval
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append((time.perf_counter() - intended) * 1000)
            body = workload.chat(first + 4 + index)
            tasks.append(asyncio.create_task(_timed_call(session, url, body, workload, intended)))
        last_send = time.perf_counter()
        results = await asyncio.gather(*tasks)
    latencies = tuple(r for r in results if r is not None)
    span = last_send - start
    return OpenLoopResult(
        rate_rps=rate_rps,
        sent=count,
        errors=count - len(latencies),
        achieved_rps=(count - 1) / span if span > 0 else 0.0,
        latencies_ms=latencies,
        send_lag_p50_ms=quantile(lags, 0.5),
        send_lag_p99_ms=quantile(lags, 0.99),
    )


async def _stream_once(
    session: aiohttp.ClientSession, url: str, body: bytes, workload: Workload
) -> tuple[float, float] | None:
    begin = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=workload.headers) as resp:
            first = await resp.content.readany()
            first_at = time.perf_counter()
            tail = b""
            async for piece in resp.content.iter_any():
                tail = (tail + piece)[-64:]
            end = time.perf_counter()
            if resp.status != 200 or b"[DONE]" not in (first + tail)[-64:]:
                return None
    except (aiohttp.ClientError, TimeoutError):
        return None
    return (first_at - begin) * 1000, (end - begin) * 1000


async def stream_probe(
    url: str, workload: Workload, *, requests: int, budget_s: float, timeout_s: float = 10.0
) -> StreamResult:
    """Stream up to ``requests`` answers one after another, within ``budget_s`` seconds."""
    ttfb: list[float] = []
    total: list[float] = []
    errors = 0
    deadline = time.monotonic() + budget_s
    async with _session(timeout_s) as session:
        first = random.randrange(100_000_000)  # prompts new to the target (workload.numbered())
        await _stream_once(session, url, workload.stream(first), workload)  # keep-alive
        for index in range(1, requests + 1):
            if time.monotonic() > deadline:
                break
            timing = await _stream_once(session, url, workload.stream(first + index), workload)
            if timing is None:
                errors += 1
                continue
            ttfb.append(timing[0])
            total.append(timing[1])
    return StreamResult(errors=errors, ttfb_ms=tuple(ttfb), total_ms=tuple(total))
