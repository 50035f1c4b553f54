"""The state of one call as it moves through the phases, and the replies it can end in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bastion.limits.base import Reservation
from bastion.model import (
    AuthenticatedKey,
    CallStatus,
    Decision,
    Endpoint,
    Finding,
    Principal,
    Usage,
)
from bastion.model.controls import ToolRefusal
from bastion.pipeline.answer_scan import AnswerScan
from bastion.pipeline.output_guard import OutputGuard
from bastion.pipeline.stream import Dialect
from bastion.pipeline.tool_calls import ToolCallGuard
from bastion.pipeline.tracing import NO_TRACE, CallTrace
from bastion.wire.request import ParsedRequest

if TYPE_CHECKING:
    from bastion.pipeline.content import ContentDraft

NO_USAGE = Usage()


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """What the server hands the pipeline: the route, the body and who presented what."""

    endpoint: Endpoint
    body: bytes
    api_key: str | None
    request_id: str
    received_at: float
    client_addr: str | None = None
    idempotency_key: str | None = None
    """The ``Idempotency-Key`` header, as sent (``pipeline.idempotency`` checks it)."""
    traceparent: str | None = None
    """W3C ``traceparent`` header: a traced call continues the caller's trace."""
    tracestate: str | None = None


Finish = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Reply:
    """A complete answer (JSON body).

    ``finish``, when set, is awaited by the server once the reply has been sent (or
    could not be): it settles limits and writes the audit record, off the caller's
    critical path (DESIGN.md: what the caller does not need happens after the reply).
    ``undelivered``, when set, is called before ``finish`` instead of sending when the
    client has already gone (it marks an upstream answer nobody received as cancelled).
    """

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    finish: Finish | None = None
    undelivered: Callable[[], None] | None = None


@dataclass(slots=True)
class StreamingReply:
    """A streamed answer; ``chunks`` finalises the call (settle, audit) when it ends.

    The server awaits ``finish`` after closing ``chunks`` in every case: it ends the
    call when the relay never started (the client left before the first byte) and
    does nothing otherwise.
    """

    status: int
    chunks: AsyncIterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    finish: Finish | None = None


@dataclass(slots=True)
class CallContext:
    """Everything known about one call so far; the audit record is built from it."""

    call: IncomingCall
    started_wall: float = field(default_factory=time.time)
    key: AuthenticatedKey | None = None
    principal: Principal | None = None
    parsed: ParsedRequest | None = None
    findings: list[Finding] = field(default_factory=list)
    decision: Decision | None = None
    model_used: str | None = None
    provider: str | None = None
    reservation: Reservation | None = None
    usage: Usage = NO_USAGE
    cost_usd: float | None = None
    """What the call cost, from its usage and the model's price (when limits know it)."""
    status: CallStatus = CallStatus.FAILED
    http_status: int = 0
    error_code: str | None = None
    end_user_claimed: str | None = None
    upstream_sent_at: float | None = None
    upstream_done_at: float | None = None
    overhead_s: float = 0.0
    upstream_s: float = 0.0
    finished: bool = False
    in_flight: bool = False
    class_set: str | None = None
    """Digest of the class set the call was inspected with (see ``GatewayParts``)."""
    content: ContentDraft | None = None
    """The call's content as it goes, when its retention mode keeps any (docs/audit.md)."""
    content_ref: dict[str, str] | None = None
    """Mode and salted digest of the content kept; the completion record carries it."""
    tools_stripped: tuple[ToolRefusal, ...] = ()
    """Tools the policy took out of the request (each with its rule)."""
    tool_guard: ToolCallGuard | None = None
    """Checks the tool calls of the answer (None: the policy has no tool rules)."""
    answer_scan: AnswerScan | OutputGuard | None = None
    """Reads the answer: records findings, and applies output rules when there are any."""
    replay_of: str | None = None
    """Request id of the call whose stored answer this one replayed (Idempotency-Key)."""
    trace: CallTrace = NO_TRACE
    """The call's spans (``pipeline.tracing``); does nothing unless tracing is on."""

    @property
    def dialect(self) -> Dialect:
        """The stream dialect of this call's endpoint."""
        return "responses" if self.call.endpoint is Endpoint.RESPONSES else "chat"

    @property
    def answer_findings(self) -> list[Finding]:
        """What the answer reader found so far (filled as a stream goes)."""
        return self.answer_scan.findings if self.answer_scan is not None else []

    @property
    def model_requested(self) -> str | None:
        return self.parsed.conversation.model if self.parsed else None
