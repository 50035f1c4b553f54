"""The pipeline's contract: phases in order, local replies stop early, settle always runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import replace
from typing import Any

import orjson
import pytest

from bastion.audit.writer import AuditWriter
from bastion.config.schema import ModelConfig, ModelTarget
from bastion.errors import AuthenticationFailed, RateLimited, ServiceUnavailable, UpstreamFailed
from bastion.limits.base import Reservation
from bastion.model import (
    Action,
    AuthenticatedKey,
    CallRecord,
    CallStatus,
    Conversation,
    Decision,
    Endpoint,
    Finding,
    Principal,
    Usage,
)
from bastion.pipeline.context import IncomingCall, Reply, StreamingReply
from bastion.pipeline.gateway import Gateway
from bastion.pipeline.parts import GatewayParts
from bastion.providers import UpstreamResponse

KEY = AuthenticatedKey(Principal(key_id="k1", name="test", app="app", environment="prod"))
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello a@b.example"}]}


class Recorder:
    """Every fake appends what ran, so tests can assert the order of phases."""

    def __init__(self) -> None:
        self.order: list[str] = []


class FakeVerifier:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    async def verify(self, presented: str | None) -> AuthenticatedKey:
        self.rec.order.append("authenticate")
        if presented != "good":
            raise AuthenticationFailed("Incorrect API key provided.")
        return KEY


class FakeLimiter:
    def __init__(self, rec: Recorder, *, refuse_admit: bool = False) -> None:
        self.rec = rec
        self.refuse_admit = refuse_admit
        self.settled: list[tuple[Reservation, Usage]] = []

    async def admit(self, principal: Principal) -> Reservation:
        self.rec.order.append("admit")
        if self.refuse_admit:
            raise RateLimited("Rate limit reached.", headers={"retry-after": "1"})
        return Reservation()

    async def reserve(
        self,
        principal: Principal,
        conversation: Conversation,
        model: str,
        admitted: Reservation = Reservation(),  # noqa: B008
    ) -> Reservation:
        self.rec.order.append("reserve")
        return Reservation(scopes=("app:app",), tokens=100)

    async def settle(self, principal: Principal, reservation: Reservation, usage: Usage) -> None:
        self.rec.order.append("settle")
        self.settled.append((reservation, usage))


class FakeInspector:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def inspect(self, conversation: Conversation) -> list[Finding]:
        self.rec.order.append("inspect")
        text = conversation.segments[0].text
        start = text.index("a@b")
        return [Finding("pii.email", 0, start, start + 13, 0.99, "fake")]

    def scan_text(
        self, text: str, source: str, *, all_scores: bool = False
    ) -> tuple[list[Finding], dict[str, Any]]:
        return [], {"findings": []}

    def inspect_answer(self, text: str, stand_ins: Collection[str] = ()) -> list[Finding]:
        self.rec.order.append("inspect_answer")
        return []


class FakeDecider:
    def __init__(self, rec: Recorder, action: Action = Action.ALLOW) -> None:
        self.rec = rec
        self.action = action

    @property
    def version(self) -> str | None:
        return "test@v1+abcdef123456"

    def decide(
        self, principal: Principal, conversation: Conversation, findings: Sequence[Finding]
    ) -> Decision:
        self.rec.order.append("decide")
        return Decision(
            self.action,
            rules=("pii.block",),
            policy_version=self.version,
            message="Personal data may not leave." if self.action is Action.BLOCK else None,
        )


class FakeTransformer:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def apply(
        self,
        body: dict[str, Any],
        conversation: Conversation,
        findings: Sequence[Finding],
        decision: Decision,
    ) -> tuple[dict[str, Any], None]:
        self.rec.order.append("apply")
        return body, None


class FakeStream:
    def __init__(self, rec: Recorder, chunks: list[bytes], fail_after: int | None = None) -> None:
        self.rec = rec
        self.provider = "sim"
        self._chunks = chunks
        self._fail_after = fail_after
        self.closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for i, chunk in enumerate(self._chunks):
            if self._fail_after is not None and i == self._fail_after:
                raise UpstreamFailed("The upstream connection dropped.")
            yield chunk

    async def aclose(self) -> None:
        self.rec.order.append("upstream_closed")
        self.closed = True


class FakeRouter:
    def __init__(self, rec: Recorder, answer: Any = None, error: Exception | None = None) -> None:
        self.rec = rec
        self.answer = answer
        self.error = error
        self.bodies: list[dict[str, Any]] = []

    async def send(
        self, public_model: str, endpoint: Endpoint, body: dict[str, Any], *, stream: bool
    ) -> Any:
        self.rec.order.append("forward")
        self.bodies.append(body)
        if self.error is not None:
            raise self.error
        return self.answer


class MemorySink:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    async def insert_many(self, records: Sequence[CallRecord]) -> None:
        self.records.extend(records)


def _answer(model: str = "gpt-4o-mini-2024-07-18") -> UpstreamResponse:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
    }
    return UpstreamResponse(200, orjson.dumps(body), {}, "sim", model, "gpt-4o-mini", 1, 1.0)


def _chunk(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _delta(
    text: str | None, finish: str | None = None, usage: dict[str, int] | None = None
) -> bytes:
    """One chat chunk: a content delta, or (text None) the usage chunk with no choices."""
    choices = (
        [] if text is None else [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]
    )
    return _chunk(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "up",
            "choices": choices,
            "usage": usage,
        }
    )


STREAM = [
    _delta("hel"),
    _delta("lo", "stop"),
    _delta(None, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
    b"data: [DONE]\n\n",
]


class Harness:
    def __init__(
        self,
        *,
        router_answer: Any = None,
        router_error: Exception | None = None,
        action: Action = Action.ALLOW,
        refuse_admit: bool = False,
    ) -> None:
        self.rec = Recorder()
        self.sink = MemorySink()
        self.limiter = FakeLimiter(self.rec, refuse_admit=refuse_admit)
        self.router = FakeRouter(self.rec, router_answer, router_error)
        self.parts = GatewayParts(
            verifier=FakeVerifier(self.rec),
            router=self.router,
            audit=AuditWriter(self.sink),
            models={"gpt-4o-mini": ModelConfig(targets=[ModelTarget(provider="p", model="m")])},
            limiter=self.limiter,
            inspector=FakeInspector(self.rec),
            decider=FakeDecider(self.rec, action),
            transformer=FakeTransformer(self.rec),
        )
        self.gateway = Gateway(self.parts)

    async def call(self, body: dict[str, Any], key: str = "good") -> Reply | StreamingReply:
        call = IncomingCall(Endpoint.CHAT, orjson.dumps(body), key, "req_test", 0.0)
        reply = await self.gateway.handle(call)
        if isinstance(reply, Reply) and reply.finish is not None:
            await reply.finish()  # as the server does once the reply is sent
        return reply

    async def records(self) -> list[CallRecord]:
        await self.parts.audit.flush()
        return self.sink.records


async def test_phases_run_in_order_and_the_record_is_complete() -> None:
    h = Harness(router_answer=_answer())
    reply = await h.call(CHAT)
    assert isinstance(reply, Reply) and reply.status == 200
    assert h.rec.order == [
        "authenticate",
        "admit",
        "inspect",
        "decide",
        "apply",
        "reserve",
        "forward",
        "inspect_answer",
        "settle",
    ]
    assert orjson.loads(reply.body)["model"] == "gpt-4o-mini"
    assert reply.headers["x-bastion-policy"] == "test@v1+abcdef123456"
    assert reply.headers["x-bastion-rules"] == "pii.block"
    ((reservation, usage),) = h.limiter.settled
    assert reservation.tokens == 100 and usage == Usage(7, 1)
    (record,) = await h.records()
    assert record.status is CallStatus.COMPLETED and record.http_status == 200
    assert record.principal == KEY.principal
    assert record.model_requested == record.model_used == "gpt-4o-mini"
    assert record.decision == "allow" and record.rules == ("pii.block",)
    assert record.usage == Usage(7, 1) and record.provider == "sim"
    (summary,) = record.findings
    assert (summary.data_class, summary.source, summary.location) == (
        "pii.email",
        "user",
        "messages.0.content",
    )
    assert "a@b.example" not in repr(record)


@pytest.mark.parametrize("action", [Action.BLOCK, Action.REQUIRE_EXCEPTION])
async def test_a_local_reply_stops_before_the_upstream_and_is_recorded(action: Action) -> None:
    h = Harness(router_answer=_answer(), action=action)
    reply = await h.call(CHAT)
    assert isinstance(reply, Reply) and reply.status == 403
    error = orjson.loads(reply.body)
    assert error["error"]["code"] == (
        "policy_violation" if action is Action.BLOCK else "exception_required"
    )
    assert error["bastion"]["rules"] == ["pii.block"]
    assert "forward" not in h.rec.order and h.router.bodies == []
    assert h.rec.order[-1] == "settle"
    (record,) = await h.records()
    assert record.status is CallStatus.BLOCKED and record.decision == action.value


async def test_admission_refusal_sheds_before_parsing() -> None:
    h = Harness(router_answer=_answer(), refuse_admit=True)
    reply = await h.call(CHAT)
    assert isinstance(reply, Reply) and reply.status == 429
    assert reply.headers["retry-after"] == "1"
    assert h.rec.order == ["authenticate", "admit"]
    (record,) = await h.records()
    assert record.status is CallStatus.FAILED and record.error_code == "rate_limit_exceeded"


async def test_unauthenticated_calls_write_no_record_and_are_counted() -> None:
    h = Harness(router_answer=_answer())
    reply = await h.call(CHAT, key="bad")
    assert isinstance(reply, Reply) and reply.status == 401
    assert await h.records() == []
    assert h.parts.metrics.unauthenticated._value.get() == 1


async def test_upstream_failure_still_settles_and_records() -> None:
    h = Harness(router_error=UpstreamFailed("The upstream failed."))
    reply = await h.call(CHAT)
    assert isinstance(reply, Reply) and reply.status == 502
    assert h.rec.order[-2:] == ["forward", "settle"]
    (record,) = await h.records()
    assert record.status is CallStatus.FAILED and record.error_code == "upstream_error"


async def test_bad_body_after_identity_is_recorded() -> None:
    h = Harness(router_answer=_answer())
    reply = await h.call({"model": "gpt-4o-mini", "messages": []})
    assert isinstance(reply, Reply) and reply.status == 400
    assert h.rec.order == ["authenticate", "admit", "settle"]
    (record,) = await h.records()
    assert record.http_status == 400 and record.error_code == "invalid_value"


async def _drain(reply: Reply | StreamingReply) -> bytes:
    assert isinstance(reply, StreamingReply)
    return b"".join([chunk async for chunk in reply.chunks])


def _answer_with_usage(usage: dict[str, Any] | None) -> UpstreamResponse:
    answer = _answer()
    body = orjson.loads(answer.body)
    if usage is None:
        del body["usage"]
    else:
        body["usage"] = usage
    return replace(answer, body=orjson.dumps(body))


async def test_an_answer_settles_its_cached_prompt_tokens_apart() -> None:
    usage: dict[str, Any] = {"prompt_tokens": 900, "completion_tokens": 3, "total_tokens": 903}
    usage["prompt_tokens_details"] = {"cached_tokens": 512}
    h = Harness(router_answer=_answer_with_usage(usage))
    await h.call(CHAT)
    ((_, settled),) = h.limiter.settled
    assert settled == Usage(900, 3, cached_prompt_tokens=512)


async def test_an_answer_without_usage_settles_an_estimate_of_prompt_and_answer() -> None:
    h = Harness(router_answer=_answer_with_usage(None))
    await h.call(CHAT)
    ((_, settled),) = h.limiter.settled
    assert settled.estimated and settled.prompt_tokens >= 1 and settled.completion_tokens >= 1


async def test_a_failed_responses_object_is_reworded_billed_and_recorded_failed() -> None:
    body = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "status": "failed",
        "error": {"code": "server_error", "message": "shard 7 down; key sk-upstream-canary-4f1"},
        "output": [],
        "usage": {"input_tokens": 9, "output_tokens": 0, "total_tokens": 9},
    }
    answer = UpstreamResponse(200, orjson.dumps(body), {}, "sim", "m", "gpt-4o-mini", 1, 1.0)
    h = Harness(router_answer=answer)
    request = {"model": "gpt-4o-mini", "input": "hello a@b.example"}
    call = IncomingCall(Endpoint.RESPONSES, orjson.dumps(request), "good", "req_resp", 0.0)
    reply = await h.gateway.handle(call)
    assert isinstance(reply, Reply) and reply.finish is not None
    await reply.finish()
    sent = orjson.loads(reply.body)
    assert b"canary" not in reply.body and b"shard" not in reply.body
    assert sent["status"] == "failed" and sent["error"]["code"] == "upstream_error"
    ((_, usage),) = h.limiter.settled
    assert usage == Usage(9, 0)  # billed by the upstream: settled (B2)
    (record,) = await h.records()
    assert record.status is CallStatus.FAILED and record.error_code == "upstream_error"


async def test_stream_settles_once_with_streamed_usage_and_hides_it() -> None:
    h = Harness(router_answer=FakeStream(Recorder(), STREAM))
    body = await _drain(await h.call({**CHAT, "stream": True}))
    assert b'"usage"' not in body and b"[DONE]" in body
    assert h.router.bodies[0]["stream_options"] == {"include_usage": True}
    assert h.limiter.settled[0][1] == Usage(5, 2)
    assert len(h.limiter.settled) == 1
    (record,) = await h.records()
    assert record.status is CallStatus.COMPLETED and record.stream


async def test_a_stream_settles_its_cached_prompt_tokens_apart() -> None:
    usage: dict[str, Any] = {"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52}
    usage["prompt_tokens_details"] = {"cached_tokens": 32}
    stream = [*STREAM[:2], _delta(None, usage=usage), STREAM[3]]
    h = Harness(router_answer=FakeStream(Recorder(), stream))
    await _drain(await h.call({**CHAT, "stream": True}))
    ((_, settled),) = h.limiter.settled
    assert settled == Usage(50, 2, cached_prompt_tokens=32)


async def test_a_stream_without_usage_estimates_tool_arguments_too() -> None:
    arguments = '{"query": "' + "quarterly revenue by region " * 10 + '"}'
    call = {"index": 0, "id": "call_1", "type": "function"}
    call["function"] = {"name": "search", "arguments": arguments}
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "up"}
    choice = {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": "tool_calls"}
    stream = [_chunk({**chunk, "choices": [choice]}), b"data: [DONE]\n\n"]
    h = Harness(router_answer=FakeStream(Recorder(), stream))
    await _drain(await h.call({**CHAT, "stream": True}))
    ((_, settled),) = h.limiter.settled
    assert settled.estimated and settled.completion_tokens >= len(arguments) // 4


async def test_stream_cancelled_by_the_client_closes_upstream_and_settles() -> None:
    stream = FakeStream(Recorder(), STREAM)
    h = Harness(router_answer=stream)
    reply = await h.call({**CHAT, "stream": True})
    assert isinstance(reply, StreamingReply)
    chunks = reply.chunks
    await anext(chunks)  # type: ignore[call-overload]
    await chunks.aclose()  # type: ignore[attr-defined]
    assert stream.closed
    ((_, usage),) = h.limiter.settled
    assert usage.estimated and usage.completion_tokens >= 1
    (record,) = await h.records()
    assert record.status is CallStatus.CANCELLED


class SlowToEnd:
    """Holds the stream's end at one step (closing the upstream, or settling) until
    released, so a test can cancel the request right there."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()

    async def hold(self) -> None:
        self.reached.set()
        await self.go_on.wait()


@pytest.mark.parametrize("step", ["closing the upstream", "settling"])
async def test_a_client_leaving_after_the_last_event_still_pays_for_the_answer(
    step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SDK closes the connection at ``[DONE]``; the server then cancels the request,
    possibly while the stream's end closes the upstream or settles. The answer was
    delivered, so it is billed in full and recorded completed (B2)."""
    stream = FakeStream(Recorder(), STREAM)
    h = Harness(router_answer=stream)
    slow = SlowToEnd()
    held = stream if step == "closing the upstream" else h.limiter
    method = "aclose" if step == "closing the upstream" else "settle"
    original = getattr(held, method)

    async def slow_step(*args: Any) -> None:
        await slow.hold()
        await original(*args)

    monkeypatch.setattr(held, method, slow_step)
    reply = await h.call({**CHAT, "stream": True})
    relay = asyncio.create_task(_drain(reply))
    await slow.reached.wait()
    relay.cancel()  # the client left after the last event
    await asyncio.sleep(0)
    slow.go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await relay
    assert stream.closed
    ((_, usage),) = h.limiter.settled
    assert usage == Usage(5, 2)
    (record,) = await h.records()
    assert record.status is CallStatus.COMPLETED


async def test_stream_failing_midway_ends_with_an_error_event() -> None:
    h = Harness(router_answer=FakeStream(Recorder(), STREAM, fail_after=1))
    body = await _drain(await h.call({**CHAT, "stream": True}))
    last = body.strip().split(b"\n\n")[-1]
    assert orjson.loads(last.removeprefix(b"data: "))["error"]["code"] == "upstream_error"
    assert b"[DONE]" not in body
    (record,) = await h.records()
    assert record.status is CallStatus.FAILED and len(h.limiter.settled) == 1


async def test_full_audit_queue_refuses_new_calls_with_503() -> None:
    h = Harness(router_answer=_answer())
    h.parts.audit = AuditWriter(h.sink, max_pending=1)
    await h.call(CHAT)  # its record now waits: the writer is not started
    reply = await h.call(CHAT)
    assert isinstance(reply, Reply) and reply.status == 503
    assert orjson.loads(reply.body)["error"]["code"] == "audit_unavailable"
    assert len(h.router.bodies) == 1  # the refused call never reached the upstream


async def test_a_failing_stream_hook_ends_the_stream_as_failed_not_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bastion.pipeline import stream_hooks

    def broken(self: object, event: object) -> None:
        raise RuntimeError("bug in a hook")

    monkeypatch.setattr(stream_hooks.ModelRewriteHook, "on_event", broken)
    h = Harness(router_answer=FakeStream(Recorder(), STREAM))
    body = await _drain(await h.call({**CHAT, "stream": True}))
    assert b'"internal_error"' in body and b"bug in a hook" not in body
    (record,) = await h.records()
    assert record.status is CallStatus.FAILED and record.error_code == "internal_error"


async def test_a_stream_abandoned_before_its_first_byte_still_ends_once() -> None:
    stream = FakeStream(Recorder(), STREAM)
    h = Harness(router_answer=stream)
    reply = await h.call({**CHAT, "stream": True})
    assert isinstance(reply, StreamingReply) and reply.finish is not None
    await reply.chunks.aclose()  # type: ignore[attr-defined]  # never iterated
    await reply.finish()
    await reply.finish()  # idempotent
    assert stream.closed and len(h.limiter.settled) == 1
    (record,) = await h.records()
    assert record.status is CallStatus.CANCELLED and record.usage.estimated
    assert h.parts.metrics.in_flight._value.get() == 0


class Applied:
    restorations = {"<EMAIL_1a2b3c4d>": "a@b.example"}
    json_answer = False


class RedactingTransformer:
    """Replaces the e-mail with this call's placeholder, as a redacting transform would."""

    def apply(
        self,
        body: dict[str, Any],
        conversation: Conversation,
        findings: Sequence[Finding],
        decision: Decision,
    ) -> tuple[dict[str, Any], Applied]:
        text = orjson.dumps(body).decode().replace("a@b.example", "<EMAIL_1a2b3c4d>")
        return orjson.loads(text), Applied()


def _answer_with(content: str, arguments: str) -> UpstreamResponse:
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": content,
                    "tool_calls": [
                        {
                            "id": "t",
                            "type": "function",
                            "function": {"name": "send", "arguments": arguments},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return UpstreamResponse(200, orjson.dumps(body), {}, "sim", "m", "gpt-4o-mini", 1, 1.0)


async def test_placeholders_are_restored_in_the_answer_and_tool_arguments() -> None:
    h = Harness(
        router_answer=_answer_with(
            "Mail <EMAIL_1a2b3c4d> now; keep <EMAIL_ffffffff>.", '{"to": "<EMAIL_1a2b3c4d>"}'
        )
    )
    h.parts.transformer = RedactingTransformer()
    reply = await h.call(CHAT)
    assert "<EMAIL_1a2b3c4d>" in orjson.dumps(h.router.bodies[0]).decode()  # upstream saw it
    message = orjson.loads(reply.body)["choices"][0]["message"]  # type: ignore[union-attr]
    assert message["content"] == "Mail a@b.example now; keep <EMAIL_ffffffff>."
    assert message["tool_calls"][0]["function"]["arguments"] == '{"to": "a@b.example"}'


async def test_placeholders_split_across_stream_chunks_are_restored() -> None:
    chunks = [
        _delta("Write to <EMA"),
        _delta("IL_1a2b"),
        _delta("3c4d> please", "stop"),
        b"data: [DONE]\n\n",
    ]
    h = Harness(router_answer=FakeStream(Recorder(), chunks))
    h.parts.transformer = RedactingTransformer()
    body = await _drain(await h.call({**CHAT, "stream": True}))
    text = "".join(
        choice["delta"].get("content") or ""
        for line in body.split(b"\n\n")
        if line.startswith(b"data: {")
        for choice in orjson.loads(line[6:])["choices"]
    )
    assert text == "Write to a@b.example please"


class OrderedAudit(AuditWriter):
    """Notes the intent in the phase order; can refuse it as a failed log would."""

    def __init__(self, h: Harness, *, refuse: bool = False) -> None:
        super().__init__(h.sink)
        self.rec, self.refuse = h.rec, refuse

    async def intent(self, record: CallRecord) -> None:
        self.rec.order.append("intent")
        if self.refuse:
            raise ServiceUnavailable("audit log failed", code="audit_unavailable")
        await super().intent(record)


async def test_the_intent_is_written_right_before_the_call_goes_upstream() -> None:
    h = Harness(router_answer=_answer())
    h.parts.audit = audit = OrderedAudit(h)
    await h.call(CHAT)
    assert h.rec.order.index("intent") == h.rec.order.index("forward") - 1
    assert audit.intents == ["req_test"]

    blocked = Harness(router_answer=_answer(), action=Action.BLOCK)
    blocked.parts.audit = OrderedAudit(blocked)
    await blocked.call(CHAT)
    assert "intent" not in blocked.rec.order  # nothing goes upstream: no intent needed


async def test_an_intent_that_cannot_be_written_refuses_the_call() -> None:
    h = Harness(router_answer=_answer())
    h.parts.audit = OrderedAudit(h, refuse=True)
    reply = await h.call(CHAT)
    assert isinstance(reply, Reply) and reply.status == 503
    assert orjson.loads(reply.body)["error"]["code"] == "audit_unavailable"
    assert "forward" not in h.rec.order and h.router.bodies == []
    (record,) = await h.records()
    assert record.status is CallStatus.FAILED and record.error_code == "audit_unavailable"


class ThreadNotingInspector(FakeInspector):
    """Notes on which thread each scan ran."""

    def __init__(self, rec: Recorder) -> None:
        super().__init__(rec)
        self.threads: dict[str, list[int]] = {"request": [], "answer": []}

    def inspect(self, conversation: Conversation) -> list[Finding]:
        self.threads["request"].append(threading.get_ident())
        return super().inspect(conversation)

    def inspect_answer(self, text: str, stand_ins: Collection[str] = ()) -> list[Finding]:
        self.threads["answer"].append(threading.get_ident())
        return super().inspect_answer(text, stand_ins)


def _answer_saying(text: str) -> UpstreamResponse:
    answer = _answer()
    body = orjson.loads(answer.body)
    body["choices"][0]["message"]["content"] = text
    return replace(answer, body=orjson.dumps(body))


@pytest.mark.parametrize("size", [1_000, 100_000])
async def test_large_texts_are_scanned_off_the_event_loop(size: int) -> None:
    # a pasted log or a long answer must not stall every other call while it is scanned
    paste = "2026-12-03 INFO request 1f3a took 12ms\n" * (size // 40)
    h = Harness(router_answer=_answer_saying(paste))
    h.parts.inspector = inspector = ThreadNotingInspector(h.rec)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a@b.c " + paste}]}
    reply = await h.call(body)
    assert isinstance(reply, Reply) and reply.status == 200
    assert orjson.loads(reply.body)["choices"][0]["message"]["content"] == paste
    loop_thread = threading.get_ident()
    on_loop = size < 32 * 1024
    assert [t == loop_thread for t in inspector.threads["request"]] == [on_loop]
    assert {t == loop_thread for t in inspector.threads["answer"]} == {on_loop}  # in windows
