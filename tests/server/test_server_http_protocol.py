"""The request head is bounded in size and time while it arrives, not after uvicorn
has buffered it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from bastion.config.schema import BastionConfig
from bastion.server.run import _Server, _uvicorn_config

CONFIG = BastionConfig.model_validate(
    {"server": {"max_header_bytes": 16384, "max_headers": 100, "body_timeout_s": 1.0}}
)


async def _echo_size(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the size of the body it read (``/refuse``: at once, unread)."""
    size = 0
    while scope["path"] != "/refuse":
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = orjson.dumps({"size": size})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serving() -> AsyncIterator[int]:
    """``_echo_size`` behind the uvicorn config ``bastion serve`` uses; its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = _Server(_uvicorn_config(_echo_size, CONFIG, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no start event)
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_an_endless_header_is_refused_before_it_is_buffered() -> None:
    """Plain httptools buffers a header until its end (never, here); the gateway
    answers 431 once the head passes its bound, while the client is still sending."""
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: ")
        sent, answer = 0, b""
        while sent < 20_000_000 and not answer:
            writer.write(b"a" * 65536)
            await writer.drain()
            sent += 65536
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(65536), 0.01)
        answer += await asyncio.wait_for(reader.read(), 10)
        writer.close()
    assert sent < 1_000_000
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert b"x-bastion-request-id: req_" in head
    assert orjson.loads(body)["error"]["code"] == "headers_too_large"


async def test_bodies_and_pipelined_requests_are_not_counted_as_heads() -> None:
    body = b"b" * 300_000
    request = (
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\nx-h: %s\r\n\r\n"
        % (len(body), b"h" * 12000)
        + body
    )
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request * 3)  # in one go: heads and bodies share reads
        await writer.drain()
        answers = b""
        while answers.count(b'{"size":300000}') < 3:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            assert chunk, answers
            answers += chunk
        writer.close()
        async with httpx.AsyncClient() as client:
            fits = await client.get(f"http://127.0.0.1:{port}/", headers={"x-a": "a" * 16000})
    assert answers.count(b"HTTP/1.1 200 ") == 3
    assert fits.status_code == 200


async def test_a_head_sent_a_byte_at_a_time_gets_408_at_the_timeout() -> None:
    """Slowloris: without a deadline the connection stayed open as long as bytes came."""
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ")
        started = asyncio.get_running_loop().time()
        answer = b""
        while not answer and asyncio.get_running_loop().time() - started < 10:
            with contextlib.suppress(ConnectionError):
                writer.write(b"a")
                await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(65536), 0.2)
        answer += await asyncio.wait_for(reader.read(), 10)
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert orjson.loads(body)["error"]["code"] == "request_timeout"


async def test_a_connection_that_sends_nothing_is_closed_silently() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()


async def test_keep_alive_idle_time_is_not_head_time() -> None:
    async with serving() as port, httpx.AsyncClient() as client:
        first = await client.post(f"http://127.0.0.1:{port}/", content=b"x")
        await asyncio.sleep(1.5)  # longer than the head timeout, on the same connection
        second = await client.post(f"http://127.0.0.1:{port}/", content=b"yy")
    assert (first.json(), second.json()) == ({"size": 1}, {"size": 2})


async def test_the_trickled_body_of_an_answered_request_does_not_hold_the_connection() -> None:
    """A refusal answered before the body (415, 413 by Content-Length) left the rest to
    arrive at any pace: each byte re-armed the connection for ever."""
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /refuse HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000000\r\n\r\n")
        started = asyncio.get_running_loop().time()
        answer, closed = b"", False
        while not closed and asyncio.get_running_loop().time() - started < 10:
            with contextlib.suppress(ConnectionError):
                writer.write(b"a")
                await writer.drain()
            with contextlib.suppress(TimeoutError):
                chunk = await asyncio.wait_for(reader.read(65536), 0.2)
                answer, closed = answer + chunk, chunk == b""
        writer.close()
    assert closed
    assert answer.startswith(b"HTTP/1.1 200 ")


async def test_a_body_that_arrives_in_time_after_the_answer_keeps_the_connection() -> None:
    async with serving() as port, httpx.AsyncClient() as client:
        refused = await client.post(f"http://127.0.0.1:{port}/refuse", content=b"x" * 100_000)
        await asyncio.sleep(1.5)
        after = await client.post(f"http://127.0.0.1:{port}/", content=b"yy")
    assert (refused.json(), after.json()) == ({"size": 0}, {"size": 2})
