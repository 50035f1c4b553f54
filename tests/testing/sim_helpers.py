"""Helpers for the simulator tests: a raw ASGI driver and an SSE splitter."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bastion.testing import Simulator


@dataclass
class Recorded:
    """Every ASGI message the app sent, with the time it was sent."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    bodies: list[tuple[float, bytes]] = field(default_factory=list)
    completed: bool = False
    started_at: float = 0.0

    @property
    def body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.bodies)


async def drive(app: Simulator, path: str, payload: Any, method: str = "POST") -> Recorded:
    """Run one request through the app, recording each send (no buffering client)."""
    raw = orjson.dumps(payload) if payload is not None else b""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer sk-test"), (b"content-type", b"application/json")],
    }
    delivered = False
    recorded = Recorded(started_at=time.monotonic())

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            recorded.status = message["status"]
            recorded.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            recorded.bodies.append((time.monotonic(), message.get("body", b"")))
            if not message.get("more_body", False):
                recorded.completed = True

    await app(scope, receive, send)  # type: ignore[arg-type]
    return recorded


def sse_data(raw: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    events = raw.decode().replace("\r\n", "\n").split("\n\n")
    payloads = []
    for event in events:
        for line in event.split("\n"):
            if line.startswith("data: "):
                payloads.append(line[6:])
    return payloads
