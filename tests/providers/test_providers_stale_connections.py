"""A pooled keep-alive connection the upstream closed as a request went out on it.

The upstream's idle timeout (uvicorn: 5 s) can close a connection at the moment the
gateway reuses it; the request then fails before any answer although it never reached
the upstream's application. The transport sends it again on the next connection,
without spending an attempt, so even ``max_attempts: 1`` does not surface the race.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
import pytest
from providers_fakes import CHAT_OK, bastion_config, provider

from bastion.errors import UpstreamFailed
from bastion.model import Endpoint

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
ANSWER = orjson.dumps(CHAT_OK)


@dataclass
class ClosingUpstream:
    """Answers the first ``answers`` requests of each connection, then drops it.

    A dropped connection closes (``reset=False``) or resets (``reset=True``) right after
    the request arrived, unanswered: what the gateway sees when the idle timeout wins.
    """

    answers: int
    reset: bool = False
    port: int = 0
    connections: int = 0
    requests: int = 0
    dropped: int = 0
    pending: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.requests += 1
                if served == self.answers:
                    self.dropped += 1
                    if self.reset:  # SO_LINGER 0: the close sends RST, not FIN
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    return
                served += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


@asynccontextmanager
async def closing_upstream(answers: int, *, reset: bool = False) -> AsyncIterator[ClosingUpstream]:
    upstream = ClosingUpstream(answers=answers, reset=reset)
    server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    async with server:
        yield upstream


def single_attempt(upstream: ClosingUpstream):  # type: ignore[no-untyped-def]
    return bastion_config(
        {"p1": provider(upstream.base_url, retry={"max_attempts": 1})}, [("p1", "m")]
    )


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_a_request_on_a_connection_the_upstream_dropped_is_sent_again(make_router, reset):
    async with closing_upstream(answers=1, reset=reset) as upstream:
        router = await make_router(single_attempt(upstream))
        first = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
        second = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (first.status, second.status) == (200, 200)
    assert orjson.loads(second.body) == CHAT_OK
    assert second.attempts == 1  # the lost send is no attempt
    assert (upstream.connections, upstream.requests, upstream.dropped) == (2, 3, 1)


async def test_a_request_is_sent_again_once_not_on_every_pooled_connection(make_router):
    """An upstream that drops every request on a reused connection (as one that crashes
    on a payload would) sees it twice, not once per connection of the pool."""
    async with closing_upstream(answers=1) as upstream:
        router = await make_router(single_attempt(upstream))
        await asyncio.gather(
            *(router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False) for _ in range(3))
        )
        assert upstream.connections == 3  # three pooled connections, each dropped on reuse
        with pytest.raises(UpstreamFailed) as info:
            await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (info.value.status, info.value.code) == (502, "upstream_error")
    assert upstream.dropped == 2
    assert upstream.connections == 3  # no new connection was opened


async def test_a_new_connection_dropped_unanswered_is_an_upstream_fault(make_router):
    async with closing_upstream(answers=0) as upstream:
        router = await make_router(single_attempt(upstream))
        with pytest.raises(UpstreamFailed) as info:
            await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert (info.value.status, info.value.code) == (502, "upstream_error")
    assert (upstream.connections, upstream.requests) == (1, 1)  # not sent again
