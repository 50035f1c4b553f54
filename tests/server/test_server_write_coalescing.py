"""A reply's writes made in one turn of the event loop leave in one send: the head
uvicorn writes when the reply starts and the body after it are one packet, not two."""

from __future__ import annotations

import asyncio
from typing import Any

from bastion.server.http_protocol import CoalescingTransport


class _Recording(asyncio.Transport):
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.events: list[str] = []

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))
        self.events.append("write")

    def write_eof(self) -> None:
        self.events.append("eof")

    def close(self) -> None:
        self.events.append("close")

    def is_closing(self) -> bool:
        return "close" in self.events

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name == "sockname" else default


async def _turn() -> None:
    await asyncio.sleep(0)


async def test_writes_in_one_turn_leave_together_when_the_loop_turns() -> None:
    inner = _Recording()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    transport.write(b"hello")
    assert inner.sent == []
    await _turn()
    assert inner.sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"]
    transport.write(b"next")  # a later turn's write is its own send
    await _turn()
    assert inner.sent[1:] == [b"next"]


async def test_close_and_eof_send_what_was_gathered_first() -> None:
    inner = _Recording()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.write_eof()
    transport.write(b"after eof")  # a misuse the transport itself would report
    transport.close()
    assert inner.events == ["write", "eof", "write", "close"]
    assert inner.sent == [b"last words", b"after eof"]
    await _turn()  # the scheduled send finds nothing left
    assert inner.sent == [b"last words", b"after eof"]


async def test_a_large_body_goes_out_at_once_to_meet_flow_control() -> None:
    inner = _Recording()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    chunk = b"x" * (CoalescingTransport.FLUSH_BYTES // 4)
    for _ in range(4):
        transport.write(chunk)
    assert inner.sent == [chunk * 4]  # sent without waiting for the turn
    transport.write(b"tail")
    await _turn()
    assert inner.sent == [chunk * 4, b"tail"]


async def test_everything_else_is_the_transports_own() -> None:
    inner = _Recording()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    assert transport.get_extra_info("sockname") == ("127.0.0.1", 8080)
    assert transport.is_closing() is False
