"""The idempotency phase: a call retried with the same ``Idempotency-Key`` and body gets
the first call's answer again, without reaching the upstream or being billed twice.

It runs right after authentication, before admission. A call with a key claims the
slot of (gateway key id, ``Idempotency-Key``) before anything is reserved or forwarded;
a second call with the same key meanwhile gets 409 ``idempotency_in_progress``, one
with another body 422 ``idempotency_key_reused``, and one after the first finished
the stored answer with ``Idempotent-Replayed: true``. A streamed original is replayed
as one body: its SSE bytes as relayed, in a single write with ``text/event-stream``.

Only answers the upstream produced and the gateway delivered whole are stored: a
completed call, or one whose answer an output rule refused (its tokens were billed).
Every other ending frees the key so a retry runs afresh: refusals before forwarding
(the retry is decided again), upstream failures, streams the client left, and answers
larger than ``limits.idempotency_max_answer_bytes``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator

from bastion.errors import (
    Conflict,
    InvalidRequest,
    ServiceUnavailable,
    StorageError,
)
from bastion.limits.idempotency import (
    Claimed,
    IdempotencyStore,
    InFlight,
    Reused,
    StoredAnswer,
)
from bastion.model import CallStatus, Endpoint
from bastion.pipeline.context import CallContext, Finish, IncomingCall, Reply, StreamingReply
from bastion.pipeline.run_to_end import run_to_end

log = logging.getLogger("bastion.pipeline")

HEADER = "Idempotency-Key"
REPLAY_HEADER = "idempotent-replayed"
"""``Idempotent-Replayed: true`` marks a replayed answer (lower-case, as every header here)."""
MAX_KEY_CHARS = 255
_NOT_REPLAYED = ("x-bastion-request-id", "x-ratelimit-", "x-bastion-budget-")
"""Headers of the first answer that describe that moment, not the answer."""
_STORED_ENDINGS = (CallStatus.COMPLETED, CallStatus.BLOCKED)
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
"""What a relayed stream is sent as (``server.asgi``); its replay says the same."""


class Idempotency:
    """Claims, stores and replays answers by ``Idempotency-Key`` (``store`` None: off).

    ``fail_open``: when the store cannot be reached, run calls without the guarantee
    (``limits.on_store_down: open``) instead of refusing them with 503."""

    def __init__(
        self,
        store: IdempotencyStore | None = None,
        *,
        max_answer_bytes: int = 1 << 20,
        fail_open: bool = False,
    ) -> None:
        self.store = store
        self._max_answer_bytes = max_answer_bytes
        self._fail_open = fail_open

    async def begin(self, key_id: str, call: IncomingCall) -> Slot | StoredAnswer | None:
        """The slot this call now owns, the answer to replay, or None (no key given,
        idempotency off, or an endpoint that is never billed). Raises 400 for a
        malformed key, 409 / 422 as the module says, 503 when the store is down."""
        value = call.idempotency_key
        if value is None or self.store is None or call.endpoint is Endpoint.SCAN:
            return None
        if not 1 <= len(value) <= MAX_KEY_CHARS or not value.isascii() or not value.isprintable():
            raise InvalidRequest(
                f"The {HEADER} header must be 1 to {MAX_KEY_CHARS} printable ASCII characters; "
                "a UUID works well.",
                param=HEADER,
            )
        digest = hashlib.sha256(value.encode("ascii")).hexdigest()[:32]
        scope = f"{key_id}:{digest}"
        fingerprint = hashlib.sha256(call.endpoint.value.encode() + b"\x00" + call.body).digest()
        try:
            outcome = await self.store.claim(scope, fingerprint)
        except StorageError as exc:
            if self._fail_open:
                log.warning("idempotency store unreachable; running the call without it")
                return None
            raise ServiceUnavailable(
                "The idempotency store (Redis) cannot be reached; retry shortly.",
                code="limits_unavailable",
            ) from exc
        if isinstance(outcome, Claimed):
            return Slot(self.store, scope, outcome.token, self._max_answer_bytes)
        if isinstance(outcome, InFlight):
            raise Conflict(
                f"A request with this {HEADER} is still being processed; retry once it has "
                "finished to get its answer.",
                param=HEADER,
            )
        if isinstance(outcome, Reused):
            raise InvalidRequest(
                f"This {HEADER} was already used with a different request body or endpoint; "
                "use a new key for a new request.",
                status=422,
                code="idempotency_key_reused",
                param=HEADER,
            )
        return outcome

    async def close(self) -> None:
        """Close the store's connections."""
        if self.store is not None:
            await self.store.close()


def replay(answer: StoredAnswer, request_id: str) -> Reply:
    """The stored answer again, marked as a replay, under this call's request id.

    A stream's answer is its SSE bytes as first relayed, sent as one body (one write,
    with a length): an SDK reading it as a stream gets the same events, at once."""
    headers = dict(answer.headers)
    headers["x-bastion-request-id"] = request_id
    headers[REPLAY_HEADER] = "true"
    if answer.stream:
        headers["content-type"] = SSE_CONTENT_TYPE
        headers.setdefault("cache-control", "no-cache")
    return Reply(answer.status, answer.body, headers)


class Slot:
    """A claimed key: ``keep`` stores the call's answer or frees the key, exactly once."""

    def __init__(
        self, store: IdempotencyStore, scope: str, token: object, max_answer_bytes: int
    ) -> None:
        self._store = store
        self._scope = scope
        self._token = token
        self._max_answer_bytes = max_answer_bytes
        self.settled = False

    async def keep(self, ctx: CallContext, reply: Reply | StreamingReply) -> Reply | StreamingReply:
        """Store a whole answer before it is sent; a stream is stored once it has ended."""
        if isinstance(reply, Reply):
            if _storable(ctx):
                await self._complete(reply.status, reply.headers, reply.body, ctx, stream=False)
            else:
                await self.release()
            return reply
        reply.chunks = self._recorded(ctx, reply, reply.chunks)
        reply.finish = self._then_release(reply.finish)
        return reply

    async def release(self) -> None:
        """Free the key (a retry runs afresh); never raises."""
        if self.settled:
            return
        self.settled = True
        try:
            await self._store.release(self._scope, self._token)
        except StorageError:
            log.warning("idempotency key not freed (store unreachable); it frees itself later")

    async def _complete(
        self, status: int, headers: dict[str, str], body: bytes, ctx: CallContext, *, stream: bool
    ) -> None:
        kept = tuple(
            (name, value) for name, value in headers.items() if not name.startswith(_NOT_REPLAYED)
        )
        answer = StoredAnswer(status, kept, body, stream, ctx.call.request_id)
        if answer.size > self._max_answer_bytes:
            log.info(
                "answer of request %s (%d bytes) is over limits.idempotency_max_answer_bytes: not "
                "kept for replay",
                ctx.call.request_id,
                answer.size,
            )
            await self.release()
            return
        self.settled = True
        try:
            await self._store.complete(self._scope, self._token, answer)
        except StorageError:
            log.warning(
                "answer of request %s not kept for replay (store unreachable)",
                ctx.call.request_id,
            )

    async def _recorded(
        self, ctx: CallContext, reply: StreamingReply, relayed: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        """The stream as relayed, kept (up to the size cap) for storing once it ends.

        The relay marks the call completed only after its last chunk went through here,
        so that status, not how this generator ended, says whether the client had the
        whole answer: an SDK closes the connection at ``data: [DONE]``, which may cancel
        the request while the call settles. Keeping the answer is shielded from that."""
        kept = bytearray()
        fits = True
        try:
            async for chunk in relayed:
                if fits:
                    fits = len(kept) + len(chunk) <= self._max_answer_bytes
                    if fits:
                        kept += chunk
                    else:
                        kept.clear()
                yield chunk
        finally:
            try:
                await relayed.aclose()  # type: ignore[attr-defined]  # the relay settles the call
            finally:
                if fits and _storable(ctx):
                    done = self._complete(
                        reply.status, reply.headers, bytes(kept), ctx, stream=True
                    )
                else:
                    done = self.release()
                await run_to_end(done)

    def _then_release(self, finish: Finish | None) -> Finish:
        async def finish_and_release() -> None:
            try:
                if finish is not None:
                    await finish()
            finally:
                await self.release()  # a stream whose relay never started

        return finish_and_release


def _storable(ctx: CallContext) -> bool:
    """Whether the upstream answered and the gateway delivered that answer whole."""
    return ctx.upstream_sent_at is not None and ctx.status in _STORED_ENDINGS
