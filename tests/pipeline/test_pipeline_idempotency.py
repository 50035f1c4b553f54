"""The idempotency phase in the pipeline: a retry with the same Idempotency-Key and body is
answered from the first call — never forwarded, admitted or settled again — and only
answers the upstream produced are kept."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
import pytest
from tests.pipeline.test_pipeline_gateway import (
    CHAT,
    STREAM,
    FakeStream,
    Harness,
    Recorder,
    _answer,
)

from bastion.crypto.keyring import Keyring
from bastion.errors import StorageError, UpstreamFailed
from bastion.limits.base import RateHeaders, Reservation
from bastion.limits.idempotency import MemoryIdempotencyStore, StoredAnswer
from bastion.model import Action, CallStatus, Endpoint
from bastion.pipeline.context import IncomingCall, Reply, StreamingReply
from bastion.pipeline.idempotency import Idempotency

_ids = itertools.count()


class StreamRouter:
    """A fresh upstream stream per call (FakeStream is single-use)."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.bodies: list[dict[str, Any]] = []
        self.error: Exception | None = None

    async def send(
        self, public_model: str, endpoint: Endpoint, body: dict[str, Any], *, stream: bool
    ) -> Any:
        self.rec.order.append("forward")
        self.bodies.append(body)
        if self.error is not None:
            raise self.error
        return FakeStream(self.rec, STREAM) if stream else _answer()


def harness(*, max_answer_bytes: int = 1 << 20, action: Action = Action.ALLOW) -> Harness:
    h = Harness(action=action)
    h.router = StreamRouter(h.rec)  # type: ignore[assignment]
    h.parts.router = h.router
    store = MemoryIdempotencyStore(
        ttl_s=60, in_flight_ttl_s=60, max_bytes=1 << 24, keyring=Keyring.generate()
    )
    h.parts.idempotency = Idempotency(store, max_answer_bytes=max_answer_bytes)
    return h


async def call(
    h: Harness, body: dict[str, Any], key: str | None = "retry-1"
) -> Reply | StreamingReply:
    incoming = IncomingCall(
        Endpoint.CHAT, orjson.dumps(body), "good", f"req_{next(_ids)}", 0.0, None, key
    )
    reply = await h.gateway.handle(incoming)
    if isinstance(reply, Reply) and reply.finish is not None:
        await reply.finish()
    return reply


async def drain(reply: Reply | StreamingReply) -> bytes:
    assert isinstance(reply, StreamingReply)
    try:
        return b"".join([chunk async for chunk in reply.chunks])
    finally:
        if reply.finish is not None:
            await reply.finish()


def error_code(reply: Reply | StreamingReply) -> str:
    assert isinstance(reply, Reply)
    code: str = orjson.loads(reply.body)["error"]["code"]
    return code


async def test_a_retried_answer_is_replayed_without_forwarding_or_billing_again() -> None:
    h = harness()
    h.limiter.reserve = _with_rate_headers(h.limiter.reserve)  # type: ignore[method-assign]
    first = await call(h, CHAT)
    second = await call(h, CHAT)
    assert isinstance(first, Reply) and isinstance(second, Reply)
    assert second.status == 200 and second.body == first.body
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["x-bastion-decision"] == "allow"
    assert first.headers["x-ratelimit-remaining-requests"] == "9"
    assert "x-ratelimit-remaining-requests" not in second.headers  # that moment has passed
    assert second.headers["x-bastion-request-id"] != first.headers["x-bastion-request-id"]
    assert h.rec.order.count("forward") == 1 and h.rec.order.count("admit") == 1
    assert len(h.limiter.settled) == 1
    original, replayed = await h.records()
    assert replayed.request_facts["idempotent_replay_of"] == original.request_id
    assert replayed.status is CallStatus.COMPLETED and replayed.usage.total_tokens == 0


def _with_rate_headers(reserve: Any) -> Any:
    async def reserve_with_headers(*args: Any, **kwargs: Any) -> Reservation:
        held: Reservation = await reserve(*args, **kwargs)
        return Reservation(held.scopes, held.tokens, rates=RateHeaders(requests=(10, 9, 30.0)))

    return reserve_with_headers


async def test_a_retried_stream_is_replayed_as_one_sse_body_byte_for_byte() -> None:
    h = harness()
    first = await drain(await call(h, {**CHAT, "stream": True}))
    replay = await call(h, {**CHAT, "stream": True})
    assert isinstance(replay, Reply)  # one body, sent in one write with its length
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"].startswith("text/event-stream")
    assert replay.body == first and first.endswith(b"data: [DONE]\n\n")
    assert h.rec.order.count("forward") == 1 and len(h.limiter.settled) == 1
    assert len(await h.records()) == 2


class PausingStore(MemoryIdempotencyStore):
    """Completes a slot only once ``resume`` is set; ``completing`` says it was asked."""

    def __init__(self) -> None:
        super().__init__(ttl_s=60, in_flight_ttl_s=60, max_bytes=1 << 20)
        self.completing = asyncio.Event()
        self.resume = asyncio.Event()

    async def complete(self, scope: str, token: object, answer: StoredAnswer) -> None:
        self.completing.set()
        await self.resume.wait()
        await super().complete(scope, token, answer)


@pytest.mark.parametrize("left_during", ["settle", "store"])
async def test_a_stream_is_kept_when_the_client_leaves_at_done(left_during: str) -> None:
    # the official SDK closes the connection at `data: [DONE]`: the request is cancelled
    # while the call settles or its answer is being kept, after the client had it whole
    h = harness()
    store = PausingStore()
    h.parts.idempotency = Idempotency(store)
    settling = asyncio.Event()
    settled = asyncio.Event()
    settle = h.limiter.settle

    async def paused_settle(*args: Any) -> None:
        settling.set()
        await settled.wait()
        await settle(*args)

    h.limiter.settle = paused_settle  # type: ignore[method-assign]
    if left_during == "store":
        settled.set()
    else:
        store.resume.set()
    reply = await call(h, {**CHAT, "stream": True})
    assert isinstance(reply, StreamingReply)
    sent: list[bytes] = []

    async def pump() -> None:
        async for chunk in reply.chunks:
            sent.append(chunk)

    pumping = asyncio.ensure_future(pump())
    await (settling if left_during == "settle" else store.completing).wait()
    pumping.cancel()  # what the server does when the client disconnects
    store.resume.set()
    settled.set()  # the settle the cancel found under way goes on to its end
    with pytest.raises(asyncio.CancelledError):
        await pumping
    await reply.chunks.aclose()  # type: ignore[attr-defined]
    assert reply.finish is not None
    await reply.finish()
    assert len(h.limiter.settled) == 1  # billed once, in full
    replay = await call(h, {**CHAT, "stream": True})
    assert isinstance(replay, Reply) and replay.headers["idempotent-replayed"] == "true"
    assert replay.body == b"".join(sent) and sent[-1].endswith(b"data: [DONE]\n\n")
    assert h.rec.order.count("forward") == 1


async def test_a_retry_while_the_first_call_runs_gets_409() -> None:
    h = harness()
    running = await call(h, {**CHAT, "stream": True})  # relay not yet drained
    assert error_code(await call(h, {**CHAT, "stream": True})) == "idempotency_in_progress"
    await drain(running)
    replay = await call(h, {**CHAT, "stream": True})
    assert replay.headers["idempotent-replayed"] == "true"


async def test_a_key_reused_with_another_body_gets_422_and_is_recorded() -> None:
    h = harness()
    await call(h, CHAT)
    reply = await call(h, {**CHAT, "temperature": 0.5})
    assert isinstance(reply, Reply) and reply.status == 422
    error = orjson.loads(reply.body)["error"]
    assert error["code"] == "idempotency_key_reused" and error["param"] == "Idempotency-Key"
    assert h.rec.order.count("forward") == 1
    refused = (await h.records())[-1]
    assert refused.http_status == 422 and refused.principal is not None


@pytest.mark.parametrize("key", ["", "x" * 256, "clé-1", "tab\there"])
async def test_a_malformed_key_is_refused_with_400_naming_the_header(key: str) -> None:
    h = harness()
    reply = await call(h, CHAT, key=key)
    assert isinstance(reply, Reply) and reply.status == 400
    assert orjson.loads(reply.body)["error"]["param"] == "Idempotency-Key"
    assert "forward" not in h.rec.order


async def test_a_refusal_before_forwarding_is_not_kept_so_the_retry_is_decided_again() -> None:
    h = harness(action=Action.BLOCK)
    assert (await call(h, CHAT)).status == 403
    assert (await call(h, CHAT)).status == 403
    assert h.rec.order.count("decide") == 2 and "forward" not in h.rec.order


async def test_an_upstream_failure_frees_the_key_for_a_retry() -> None:
    h = harness()
    h.router.error = UpstreamFailed("The upstream connection dropped.")  # type: ignore[attr-defined]
    assert error_code(await call(h, CHAT)) == "upstream_error"
    h.router.error = None  # type: ignore[attr-defined]
    retried = await call(h, CHAT)
    assert retried.status == 200 and "idempotent-replayed" not in retried.headers
    assert h.rec.order.count("forward") == 2


async def test_a_stream_the_client_left_frees_the_key() -> None:
    h = harness()
    reply = await call(h, {**CHAT, "stream": True})
    assert isinstance(reply, StreamingReply)
    await anext(reply.chunks)  # type: ignore[call-overload]
    await reply.chunks.aclose()  # type: ignore[attr-defined]
    assert reply.finish is not None
    await reply.finish()
    assert (await h.records())[0].status is CallStatus.CANCELLED
    retried = await call(h, {**CHAT, "stream": True})
    assert "idempotent-replayed" not in retried.headers
    await drain(retried)
    assert h.rec.order.count("forward") == 2


async def test_a_stream_abandoned_before_its_first_byte_frees_the_key() -> None:
    h = harness()
    reply = await call(h, {**CHAT, "stream": True})
    assert isinstance(reply, StreamingReply) and reply.finish is not None
    await reply.chunks.aclose()  # type: ignore[attr-defined]
    await reply.finish()
    await drain(await call(h, {**CHAT, "stream": True}))
    assert h.rec.order.count("forward") == 2


async def test_an_answer_over_the_size_cap_is_not_kept_and_the_retry_runs_again() -> None:
    h = harness(max_answer_bytes=64)
    assert (await call(h, CHAT)).status == 200
    retried = await call(h, CHAT)
    assert retried.status == 200 and "idempotent-replayed" not in retried.headers
    assert h.rec.order.count("forward") == 2 and len(h.limiter.settled) == 2


async def test_calls_without_the_header_are_not_remembered() -> None:
    h = harness()
    await call(h, CHAT, key=None)
    await call(h, CHAT, key=None)
    assert h.rec.order.count("forward") == 2


class UnreachableStore(MemoryIdempotencyStore):
    async def claim(self, scope: str, fingerprint: bytes) -> Any:
        raise StorageError("the idempotency store (Redis) cannot be reached")


@pytest.mark.parametrize(("fail_open", "status"), [(False, 503), (True, 200)])
async def test_an_unreachable_store_refuses_or_runs_without_the_guarantee(
    fail_open: bool, status: int
) -> None:
    h = harness()
    store = UnreachableStore(ttl_s=60, in_flight_ttl_s=60, max_bytes=1 << 20)
    h.parts.idempotency = Idempotency(store, fail_open=fail_open)
    reply = await call(h, CHAT)
    assert reply.status == status
    if not fail_open:
        assert error_code(reply) == "limits_unavailable" and "forward" not in h.rec.order
