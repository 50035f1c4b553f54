"""Raw ASGI plumbing for the simulator: reading bodies and sending planned deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from bastion.testing.faults import Delivery

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_CONTENT = (b"content-type", b"application/json")


async def read_body(receive: Receive) -> bytes:
    """The whole request body (the simulator answers only after reading it)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_json(
    send: Send, status: int, payload: Any, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Send a complete JSON response in one body message."""
    body = orjson.dumps(payload)
    await send_complete(send, status, (JSON_CONTENT, *headers), body)


async def send_complete(
    send: Send, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes
) -> None:
    """Send a response whose body is known in full, with its content-length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_delivery(
    send: Send, delivery: Delivery, extra_headers: tuple[tuple[bytes, bytes], ...]
) -> None:
    """Carry out a delivery: delay, incremental body sends and pauses, clean or cut end.

    Every frame is its own ``more_body`` message so timing faults are observable. A
    delivery with ``abort`` returns without the final body message, which makes the
    server drop the connection mid-body. A client that went away ends the send quietly.
    """
    if delivery.delay_s > 0:
        await asyncio.sleep(delivery.delay_s)
    headers = (*delivery.headers, *extra_headers)
    steps = delivery.steps
    if not delivery.abort and len(steps) == 1 and isinstance(steps[0], bytes):
        await send_complete(send, delivery.status, headers, steps[0])
        return
    try:
        await send({"type": "http.response.start", "status": delivery.status, "headers": headers})
        for step in steps:
            if isinstance(step, bytes):
                await send({"type": "http.response.body", "body": step, "more_body": True})
            else:
                await asyncio.sleep(step)
        if not delivery.abort:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        return  # the client disconnected (uvicorn's ClientDisconnected is an OSError)
