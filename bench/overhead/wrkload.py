"""Closed-loop throughput with Debian's ``wrk``: POST a fixed body at a fixed concurrency.

A generated Lua script sets the method, body and headers and prints one JSON line in
``done()``, so nothing depends on wrk's human-readable output format.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.overhead.workload import NUMBER, Workload

WRK = "/usr/bin/wrk"
_MARKER = "WRK-RESULT "

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    "MARKER", summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: completed requests, wall time, errors and wrk's own latency quantiles."""

    requests: int
    duration_s: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0


def _lua_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


# each wrk thread numbers its calls: thread id, then a 7-digit count from a random start
_NUMBERED = """
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local count = -1
request = function()
  if count < 0 then  -- a new range per run: prompts new to the target
    math.randomseed(os.time() * 7 + tid)
    count = math.random(0, 9999999)
  end
  count = (count + 1) % 10000000
  return wrk.format(nil, nil, nil, prefix .. string.format("%d%07d ", tid, count) .. suffix)
end
"""


def write_script(path: Path, workload: Workload) -> Path:
    """Write the Lua script that makes wrk send ``workload``'s non-streaming chat call,
    each with its own prompt (``workload.numbered()``)."""
    prefix, suffix = workload.chat_body.split(NUMBER, 1)
    lines = ['wrk.method = "POST"']
    lines += [
        f"prefix = {_lua_string(prefix.decode())}",
        f"suffix = {_lua_string(suffix.decode())}",
    ]
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in workload.headers]
    script = "\n".join(lines) + _NUMBERED + _DONE.replace("MARKER", _MARKER)
    path.write_text(script)
    return path


def run_wrk(
    url: str, script: Path, *, connections: int, duration_s: float, threads: int = 2
) -> WrkResult:
    """Run wrk against ``url`` and parse the JSON line its ``done()`` prints."""
    argv = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    completed = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + 30, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line[len(_MARKER) :])
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return WrkResult(
                requests=int(data["requests"]),
                duration_s=data["duration_us"] / 1e6,
                errors=int(errors),
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
            )
    raise RuntimeError(f"wrk failed (exit {completed.returncode}): {completed.stderr[-500:]}")
