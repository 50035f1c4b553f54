"""Syslog sink: RFC 5424 messages, one per audit record, over TCP (octet counting,
RFC 6587; optionally TLS, RFC 5425) or UDP (one datagram each, RFC 5426).

``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG``: the record's time in UTC,
MSGID ``call`` or ``admin``, no structured data, and the record's JSON document as
MSG, escaped to ASCII so no BOM is needed. Calls are severity info, admin actions
notice. Over TCP a batch counts as delivered once written to the connection (syslog
has no acknowledgement); a broken connection fails the batch, which is sent again on
a new one. UDP cannot tell whether anything arrived: use it only where loss is
acceptable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from bastion.audit.exporters.base import SinkError
from bastion.audit.exporters.records import ExportRecord
from bastion.config.exporters import SyslogExporterConfig

FACILITIES = {
    "user": 1, "daemon": 3, "auth": 4, "authpriv": 10,
    **{f"local{n}": 16 + n for n in range(8)},
}  # fmt: skip
"""Facility codes (RFC 5424 §6.2.1)."""
SEVERITY = {"call": 6, "admin": 5}
"""info for calls, notice for admin actions."""
MAX_DATAGRAM = 65_000


def _header_field(value: str, limit: int) -> str:
    """A header field: printable ASCII without spaces, at most ``limit``, or ``-``."""
    cleaned = "".join(ch for ch in value if "!" <= ch <= "~")[:limit]
    return cleaned or "-"


def format_message(
    record: ExportRecord, *, facility: int, hostname: str, app_name: str, procid: str
) -> bytes:
    """One RFC 5424 message (without transport framing)."""
    pri = facility * 8 + SEVERITY[record.event]
    timestamp = datetime.fromtimestamp(record.at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps(record.document, ensure_ascii=True, separators=(",", ":"))
    return (f"<{pri}>1 {timestamp} {hostname} {app_name} {procid} {record.event} - {body}").encode(
        "ascii"
    )


class SyslogSink:
    """Sends each record as one syslog message to a server."""

    kind: ClassVar[str] = "syslog"

    def __init__(self, config: SyslogExporterConfig) -> None:
        self._host, self._port = config.host, config.port
        self._transport = config.transport
        self._tls = ssl.create_default_context() if config.tls else None
        self._timeout_s = config.timeout_s
        self._facility = FACILITIES[config.facility]
        self._hostname = _header_field(socket.gethostname(), 255)
        self._app_name = _header_field(config.app_name, 48)
        self._procid = str(os.getpid())
        self._writer: asyncio.StreamWriter | None = None
        self._udp: socket.socket | None = None

    def message(self, record: ExportRecord) -> bytes:
        """The record as this sink formats it."""
        return format_message(
            record,
            facility=self._facility,
            hostname=self._hostname,
            app_name=self._app_name,
            procid=self._procid,
        )

    async def send(self, records: Sequence[ExportRecord]) -> None:
        """Send one message per record, in order."""
        messages = [self.message(record) for record in records]
        try:
            async with asyncio.timeout(self._timeout_s):
                if self._transport == "tcp":
                    await self._send_tcp(messages)
                else:
                    await self._send_udp(messages)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            await self.close()
            raise SinkError(f"syslog delivery failed: {type(exc).__name__}") from None

    async def _send_tcp(self, messages: list[bytes]) -> None:
        if self._writer is None or self._writer.is_closing():
            _, self._writer = await asyncio.open_connection(self._host, self._port, ssl=self._tls)
        framed = b"".join(b"%d %s" % (len(message), message) for message in messages)
        self._writer.write(framed)
        await self._writer.drain()

    async def _send_udp(self, messages: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = infos[0]
        if self._udp is None or self._udp.family != family:
            if self._udp is not None:
                self._udp.close()
            self._udp = socket.socket(family, socket.SOCK_DGRAM)
            self._udp.setblocking(False)
        for message in messages:
            await loop.sock_sendto(self._udp, message[:MAX_DATAGRAM], address)

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
