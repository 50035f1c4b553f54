"""How much slower the same Python work runs when it comes in sparse bursts, here.

The fixed-rate phase of ``bench.overhead`` sends 200 requests/s: each proxy handles a
request, then sleeps ~5 ms. On this machine (a shared 2-vCPU VM) work done right after
such a sleep runs several times slower than the same work in a tight loop — caches,
branch predictors and clock speed have gone cold. This script measures that directly,
with no network involved: it parses the benchmark's 2 KB chat body with Bastion's own
parser back to back, then with a sleep before each parse, and prints the medians.

Run: ``.venv/bin/python -m bench.cold_cpu``
"""

from __future__ import annotations

import statistics
import time

import orjson

from bastion.model import Endpoint
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions

PROMPT = ("The quick brown fox jumps over the lazy dog. " * 46)[:2048]
BODY = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]})


def median_parse_us(gap_s: float, samples: int = 400) -> float:
    """Median time of one parse when each comes ``gap_s`` after the previous one."""
    options = WireOptions()
    times = []
    for _ in range(samples):
        if gap_s:
            time.sleep(gap_s)
        started = time.perf_counter()
        parse_body(BODY, Endpoint.CHAT, options)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    base = median_parse_us(0.0)
    print(f"{'gap before each parse':>22}  {'median':>9}  {'x tight loop':>12}")
    for gap_s in (0.0, 0.0005, 0.001, 0.005):
        value = base if gap_s == 0.0 else median_parse_us(gap_s)
        print(f"{gap_s * 1000:>19.1f} ms  {value:>7.1f} µs  {value / base:>12.1f}")


if __name__ == "__main__":
    main()
