"""Real local receivers for the exporter tests (an HTTP server, syslog listeners) and
a helper that writes chained audit records into a store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from bastion.audit.admin_events import AdminAction, record_admin_action
from bastion.audit.chain import COMPLETION, INTENT, Chain, canonical
from bastion.audit.log import intent_body
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal
from bastion.model.audit import record_to_json
from bastion.model.chain import WriterState
from bastion.storage import Database
from bastion.storage.audit_events import AuditEventRepository

PRINCIPAL = Principal(
    key_id="k1", name="app", user="ana", app="helpdesk", team="support", environment="prod"
)


def call_record(n: int) -> CallRecord:
    return CallRecord(
        f"req_{n:04d}",
        1_700_000_000.0 + n,
        "chat.completions",
        PRINCIPAL,
        "gpt-4o",
        "gpt-4o-mini",
        "redact" if n % 2 else "allow",
        CallStatus.COMPLETED,
        200,
        findings=(FindingSummary("pii.email", "user", "messages.0.content", 2, 0.9),),
        rules=("pii.redact",) if n % 2 else (),
        policy_version="default@1",
    )


class ChainWriter:
    """Ships intent + completion pairs of one writer's chain, as the audit log does."""

    def __init__(self, database: Database, writer_id: str = "w1") -> None:
        self.repository = AuditEventRepository(database)
        self.chain = Chain(writer_id)
        self.records: list[CallRecord] = []

    async def calls(self, first: int, count: int) -> list[CallRecord]:
        events, values = [], []
        batch = [call_record(n) for n in range(first, first + count)]
        for record in batch:
            intent = canonical(intent_body(record))
            events.append(self.chain.link(INTENT, record.request_id, record.started_at, intent))
        for record in batch:
            body = record_to_json(record)
            events.append(
                self.chain.link(COMPLETION, record.request_id, record.started_at, canonical(body))
            )
            values.append(body)
        state = WriterState(
            self.chain.writer_id, self.chain.head_seq, self.chain.head_hash, 0, 0, 0
        )
        await self.repository.ship(events, values, state, 1_700_000_000.0)
        self.records.extend(batch)
        return batch

    async def intents_only(self, count: int) -> None:
        """Intents of calls still running: nothing to export yet."""
        events = []
        for n in range(count):
            record = call_record(9000 + n)
            body = canonical(intent_body(record))
            events.append(self.chain.link(INTENT, record.request_id, record.started_at, body))
        state = WriterState(
            self.chain.writer_id, self.chain.head_seq, self.chain.head_hash, 0, 0, 0
        )
        await self.repository.ship(events, [], state, 1_700_000_000.0)


async def admin_action(database: Database, target: str) -> None:
    action = AdminAction("content.decrypt", "alice", "security", target, {"reason": "case-7"})
    await record_admin_action(AuditEventRepository(database), action, 1_700_000_500.0)


@dataclass
class HttpReceiver:
    """An HTTP server that records every request and can be taken down (503)."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    down: bool = False
    failed: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.down:
            self.failed += 1
            return web.Response(status=503, text="down for maintenance")
        self.requests.append((request.path, dict(request.headers), body))
        return web.json_response({"text": "Success", "code": 0})

    def bodies(self) -> list[bytes]:
        return [body for _, _, body in self.requests]


@asynccontextmanager
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    receiver = HttpReceiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@dataclass
class SyslogTcpListener:
    """Reads RFC 6587 octet-counted frames from every connection."""

    port: int = 0
    messages: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = await reader.readuntil(b" ")
                self.messages.append(await reader.readexactly(int(length)))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


class SyslogUdpListener(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.messages.append(data)
        self.arrived.set()


def documents(bodies: list[bytes]) -> list[dict[str, object]]:
    """Webhook bodies (JSON arrays) → the documents, in delivery order."""
    return [document for body in bodies for document in orjson.loads(body)]
