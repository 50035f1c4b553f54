"""One call, top to bottom: the phases of DESIGN.md §1 in order.

authenticate → idempotency → admit → parse → inspect → decide → apply → reserve → forward →
restore/inspect response (per stream window) → settle → complete the audit record.

Each phase either continues or ends the call with a local reply (``ApiError``). A
local reply after identity still writes its audit record; once a call is admitted,
settle runs on every path, exactly once. This is the one module to read to understand
a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import orjson

from bastion.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ShuttingDown,
    UpstreamFailed,
)
from bastion.limits.idempotency import StoredAnswer
from bastion.model import (
    Action,
    AuthenticatedKey,
    CallStatus,
    Decision,
    Endpoint,
    Finding,
    Principal,
)
from bastion.model.controls import ToolPlan
from bastion.model.facts import call_facts
from bastion.pipeline.answer_scan import AnswerScan
from bastion.pipeline.catalog import model_entry, visible_models
from bastion.pipeline.context import CallContext, Finish, IncomingCall, Reply, StreamingReply
from bastion.pipeline.idempotency import replay
from bastion.pipeline.output_guard import OutputGuard
from bastion.pipeline.parts import GatewayParts, LiveStream
from bastion.pipeline.record import build_record
from bastion.pipeline.response import (
    estimate_usage,
    failed_response_code,
    finish_json_body,
    read_json_answer,
    stream_hooks,
)
from bastion.pipeline.run_to_end import run_to_end
from bastion.pipeline.scan import SCAN, parse_scan_request
from bastion.pipeline.stream import StreamRelay
from bastion.pipeline.tool_calls import ToolCallGuard, shown_name
from bastion.providers import UpstreamResponse
from bastion.transform.base import AppliedTransform, Unrewritable
from bastion.transform.redact import asks_for_json
from bastion.transform.tools import strip_tools
from bastion.wire.parse import parse_body

_JSON = "application/json"
log = logging.getLogger("bastion.pipeline")


class Gateway:
    """Runs calls through the phases; owns no I/O of its own beyond its parts."""

    def __init__(self, parts: GatewayParts) -> None:
        self.parts = parts

    async def handle(self, call: IncomingCall) -> Reply | StreamingReply:
        """Answer one proxied call (chat, responses or embeddings)."""
        p = self.parts
        ctx = CallContext(call)
        trace = ctx.trace = p.tracer.start(call)
        try:
            with trace.phase("authenticate"):
                ctx.key = await self._authenticate(call.api_key, call.client_addr)
        except ApiError as exc:
            trace.refuse(exc.status, exc.code)
            return self._error_reply(ctx, exc)
        ctx.principal = ctx.key.principal
        try:  # Idempotency-Key: claim it, or replay what the first call answered
            slot = await p.idempotency.begin(ctx.principal.key_id, call)
        except ApiError as exc:
            return self._local_reply(ctx, exc)
        if isinstance(slot, StoredAnswer):
            return self._replay(ctx, slot)
        p.metrics.in_flight.inc()  # until _complete ends the call
        ctx.in_flight = True
        try:
            reply = await self._decide_and_forward(ctx)
        except ApiError as exc:
            reply = self._local_reply(ctx, exc)
        except asyncio.CancelledError:  # the server stops: its drain timeout passed
            if slot is not None:
                await run_to_end(slot.release())
            await run_to_end(self._cancelled(ctx))
            raise
        except BaseException:
            p.metrics.in_flight.dec()
            if slot is not None:
                await slot.release()
            raise
        return reply if slot is None else await slot.keep(ctx, reply)

    async def _authenticate(self, api_key: str | None, client: str | None) -> AuthenticatedKey:
        """The caller's key; a refused key is counted and summarised, never recorded."""
        try:
            return await self.parts.verifier.verify(api_key)
        except ApiError as exc:
            if exc.status == 401:
                self.parts.metrics.unauthenticated.inc()
                self.parts.rejections.add(api_key, client)
            raise

    async def models(
        self, model_id: str | None, api_key: str | None, request_id: str, client: str | None
    ) -> Reply:
        """``GET /v1/models[/{id}]``: the configured models this key may use."""
        key = await self._authenticate(api_key, client)
        names = visible_models(self.parts.models, key, self.parts.decider.approves)
        headers = {"content-type": _JSON, "x-bastion-request-id": request_id}
        if model_id is None:
            data = [model_entry(n, self.parts.models[n]) for n in names]
            return Reply(200, orjson.dumps({"object": "list", "data": data}), headers)
        if model_id not in names:
            raise NotFound(
                f"The model `{model_id[:128]}` does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        return Reply(200, orjson.dumps(model_entry(model_id, self.parts.models[model_id])), headers)

    async def scan(self, call: IncomingCall) -> Reply:
        """``POST /v1/bastion/scan``: findings for one text; audited, never forwarded."""
        p = self.parts
        ctx = CallContext(call)
        try:
            ctx.key = await self._authenticate(call.api_key, call.client_addr)
        except ApiError as exc:
            return self._error_reply(ctx, exc)
        try:
            ctx.principal = ctx.key.principal
            ctx.reservation = await p.limiter.admit(ctx.principal)
            ctx.parsed = request = parse_scan_request(call.body)
            segments = request.conversation.segments
            text, source = (
                (segments[0].text, segments[0].source.value) if segments else ("", "user")
            )
            all_scores = request.body.get("all_scores") is True
            ctx.findings, report = await _off_loop(
                len(text), p.inspector.scan_text, text, source, all_scores=all_scores
            )
        except ApiError as exc:
            return self._local_reply(ctx, exc)
        ctx.decision = SCAN
        ctx.status = CallStatus.COMPLETED
        ctx.http_status = 200
        headers = {
            "content-type": _JSON,
            "x-bastion-request-id": call.request_id,
            "x-bastion-decision": "scan",
        }
        return Reply(200, orjson.dumps(report), headers, self._finisher(ctx))

    async def _decide_and_forward(self, ctx: CallContext) -> Reply | StreamingReply:
        p = self.parts
        trace = ctx.trace
        assert ctx.key is not None
        principal = ctx.principal = ctx.key.principal
        # from here on, settle runs on every path (and releases admission's leases)
        with trace.phase("admit"):
            ctx.reservation = await p.limiter.admit(principal)
        if not p.audit.healthy:
            raise ServiceUnavailable(
                "The audit store cannot take more records; try again shortly.",
                code="audit_unavailable",
            )
        with trace.phase("parse"):
            parsed = ctx.parsed = parse_body(ctx.call.body, ctx.call.endpoint, p.wire)
            conversation = parsed.conversation
            principal = ctx.principal = self._with_end_user(ctx)
            self._check_model(ctx, conversation.model)

        size = sum(len(segment.text) for segment in conversation.segments)
        ctx.class_set = p.class_set
        with trace.phase("inspect"):
            ctx.findings = await _off_loop(size, p.inspector.inspect, conversation)
        with trace.phase("decide"):
            provider = p.models[conversation.model].targets[0].provider
            facts = call_facts(principal, conversation, ctx.findings, provider)
            exceptions = p.exceptions.for_call(principal, facts.exception_id)
            decision = ctx.decision = p.decider.decide(facts, exceptions, time.time())
        if decision.exception_id:
            p.exceptions.note_use(decision.exception_id)
        if decision.logged_rules:
            log.info(
                "policy rules %s marked log: request %s decided %s",
                ",".join(decision.logged_rules),
                ctx.call.request_id,
                decision.action.value,
            )
        if not decision.forwards:
            raise _refusal(decision, ctx.findings)
        ctx.model_used = decision.route or conversation.model
        try:
            body, applied = p.transformer.apply(parsed.body, conversation, ctx.findings, decision)
        except Unrewritable as exc:
            ctx.decision = _unrewritable(decision, exc)
            raise _refusal(ctx.decision, ctx.findings) from None
        if decision.tools is not None:
            body = self._strip_tools(ctx, body, decision.tools)
        if conversation.stream and ctx.call.endpoint is Endpoint.CHAT:
            body = _with_upstream_usage(body)
        p.content.draft(ctx, body, applied)  # content retention: what the call will keep
        with trace.phase("reserve"):
            ctx.reservation = await p.limiter.reserve(
                principal, conversation, ctx.model_used, ctx.reservation
            )

        with trace.phase("intent"):  # A1: durable before any byte goes upstream
            await p.audit.intent(build_record(ctx))
        ctx.upstream_sent_at = time.perf_counter()
        with trace.phase("upstream"):
            upstream = await p.router.send(
                ctx.model_used, ctx.call.endpoint, body, stream=conversation.stream
            )
        ctx.provider = upstream.provider
        headers = self._decided_headers(ctx)
        if not isinstance(upstream, UpstreamResponse):
            chunks = self._relay(ctx, upstream, applied, parsed.body)
            return StreamingReply(200, chunks, headers, lambda: self._abandon(ctx, upstream))
        ctx.upstream_done_at = time.perf_counter()
        ctx.upstream_s = ctx.upstream_done_at - ctx.upstream_sent_at
        scan = ctx.answer_scan = self._answer_scan(ctx, applied)
        with trace.phase("response"):
            payload, ctx.usage = read_json_answer(upstream.body, ctx.parsed)
            out = await _off_loop(
                len(upstream.body),
                finish_json_body,
                upstream.body,
                payload,
                ctx.model_used,
                applied,
                scan,
                ctx.tool_guard,
            )
        if isinstance(scan, OutputGuard) and scan.redacted:
            _add_output_redactions(headers, scan)
        if ctx.tool_guard is not None and ctx.tool_guard.refusals:
            _add_values(headers, "x-bastion-rules", ctx.tool_guard.rules)
        if ctx.content is not None:
            ctx.content.answer_json(out)
        ctx.error_code = failed_response_code(payload)  # reworded by finish_json_body
        ctx.status = CallStatus.FAILED if ctx.error_code else CallStatus.COMPLETED
        ctx.http_status = 200
        headers["content-type"] = _JSON
        return Reply(200, out, headers, self._finisher(ctx), lambda: _undelivered(ctx))

    async def _relay(
        self,
        ctx: CallContext,
        upstream: LiveStream,
        applied: AppliedTransform | None,
        client_body: dict[str, Any],
    ) -> AsyncIterator[bytes]:
        scan = ctx.answer_scan = self._answer_scan(ctx, applied)
        hooks, shaper = stream_hooks(ctx, client_body, applied, scan)
        relay = StreamRelay(hooks, dialect=ctx.dialect)
        ctx.http_status = 200
        phase = ctx.trace.start_phase("response")  # the relay, first chunk to last
        try:
            async for chunk in relay.relay(upstream.chunks()):
                if ctx.content is not None:
                    ctx.content.answer_chunk(chunk)
                yield chunk
            if not shaper.finished and shaper.upstream_error is None:
                raise UpstreamFailed("The upstream ended the stream before the answer finished.")
            ctx.error_code = shaper.upstream_error
            ctx.status = CallStatus.FAILED if ctx.error_code else CallStatus.COMPLETED
        except ApiError as exc:  # the upstream failed after the stream began
            ctx.status = CallStatus.BLOCKED if exc.status == 403 else CallStatus.FAILED
            ctx.error_code = exc.code
            yield relay.error_event(
                exc.message, exc.code, error_type=exc.error_type, bastion=exc.bastion
            )
        except Exception:  # a bug in a hook: end the stream cleanly, keep the traceback
            log.exception("stream relay failed (request %s)", ctx.call.request_id)
            ctx.status = CallStatus.FAILED
            ctx.error_code = "internal_error"
            yield relay.error_event(
                "The gateway failed while relaying the answer.", "internal_error"
            )
        except BaseException:  # the client went away (cancelled / generator closed)
            ctx.status = CallStatus.CANCELLED
            raise
        finally:
            phase.end(ctx.error_code)
            done_at = ctx.upstream_done_at = time.perf_counter()
            ctx.usage = shaper.usage_or_estimate(ctx.parsed)
            if ctx.upstream_sent_at is not None:
                ctx.upstream_s = done_at - ctx.upstream_sent_at
            await self._end_stream(ctx, upstream, done_at)

    async def _end_stream(self, ctx: CallContext, upstream: LiveStream, done_at: float) -> None:
        """Close the upstream, settle and record, to the end even if the client leaves
        meanwhile (``run_to_end``)."""

        async def close_and_complete() -> None:
            await upstream.aclose()
            await self._complete(ctx, reply_at=done_at)

        await run_to_end(close_and_complete())

    async def _cancelled(self, ctx: CallContext) -> None:
        """End a call the server cancelled before its answer (``ShuttingDown``): recorded
        as cancelled; a forwarded prompt is billed on estimate, as an abandoned stream."""
        ctx.status = CallStatus.CANCELLED
        ctx.http_status = ShuttingDown.status
        ctx.error_code = ShuttingDown.code
        done_at = time.perf_counter()
        if ctx.upstream_sent_at is not None:
            ctx.upstream_done_at = done_at
            ctx.usage = estimate_usage(ctx.parsed, 0)
        await self._complete(ctx, reply_at=done_at)

    async def _abandon(self, ctx: CallContext, upstream: LiveStream) -> None:
        """End a stream whose relay never started (the client left before its first byte)."""
        if ctx.finished:
            return
        ctx.status = CallStatus.CANCELLED
        ctx.http_status = 200
        done_at = ctx.upstream_done_at = time.perf_counter()
        ctx.usage = estimate_usage(ctx.parsed, 0)
        await self._end_stream(ctx, upstream, done_at)

    def _replay(self, ctx: CallContext, answer: StoredAnswer) -> Reply | StreamingReply:
        """Answer with a stored answer: nothing is admitted, forwarded or billed; the
        call's record names the call it replays."""
        ctx.replay_of = answer.request_id
        ctx.http_status = answer.status
        ctx.status = CallStatus.COMPLETED if answer.status < 400 else CallStatus.BLOCKED
        reply = replay(answer, ctx.call.request_id)
        reply.finish = self._finisher(ctx)
        return reply

    def _answer_scan(
        self, ctx: CallContext, applied: AppliedTransform | None
    ) -> AnswerScan | OutputGuard:
        """What reads the answer: the output guard when output rules apply to this call,
        else the observer that only records findings; neither counts the stand-ins
        issued for this call (restored afterwards) as found in the answer."""
        issued = frozenset(applied.restorations) if applied is not None else frozenset()
        plan = ctx.decision.output if ctx.decision is not None else None
        if plan is not None and plan.active:
            json_answer = ctx.parsed is not None and asks_for_json(ctx.parsed.body)
            return OutputGuard(
                plan, self.parts.inspector, self.parts.keyring, issued, json_answer=json_answer
            )
        return AnswerScan(self.parts.inspector, issued)

    def _strip_tools(
        self, ctx: CallContext, body: dict[str, Any], plan: ToolPlan
    ) -> dict[str, Any]:
        """Take out the tools this caller may not offer (or refuse the call, as the
        policy says) and arm the check of the answer's tool calls."""
        strip = strip_tools(body, plan)
        ctx.tools_stripped = strip.stripped
        if strip.stripped and plan.on_disallowed_offer == "refuse":
            assert ctx.decision is not None
            rules = tuple(dict.fromkeys(r.rule for r in strip.stripped))
            ctx.decision = replace(ctx.decision, action=Action.BLOCK, rules=rules)
            names = sorted({shown_name(r.tool) for r in strip.stripped})
            raise PermissionDenied(
                f"This request offers tools the policy does not allow for this caller "
                f"({', '.join(names)}; rule {', '.join(rules)}).",
                bastion={"decision": "block", "rules": list(rules), "tools": names},
            )
        ctx.tool_guard = ToolCallGuard(plan, strip.offered)
        return strip.body

    def _with_end_user(self, ctx: CallContext) -> Principal:
        """Apply CONTRACT.md §1: trusted keys take the end user from the request."""
        assert ctx.key is not None and ctx.parsed is not None
        principal = ctx.key.principal
        body = ctx.parsed.body
        claimed = (
            ctx.parsed.conversation.end_user or body.get("user") or body.get("safety_identifier")
        )
        if not isinstance(claimed, str) or not claimed:
            return principal
        if ctx.key.trust_end_user:
            return principal.with_user(claimed[:256])
        ctx.end_user_claimed = claimed[:256]
        return principal

    def _check_model(self, ctx: CallContext, model: str) -> None:
        assert ctx.key is not None
        configured = self.parts.models.get(model)
        if configured is None or not ctx.key.allows_model(model):
            raise NotFound(
                f"The model `{model[:128]}` does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        wants_embedding = ctx.call.endpoint is Endpoint.EMBEDDINGS
        if (configured.kind == "embedding") != wants_embedding:
            what = "an embedding model" if configured.kind == "embedding" else "a chat model"
            raise InvalidRequest(
                f"`{model[:128]}` is {what} and cannot serve {ctx.call.endpoint.value}.",
                param="model",
            )

    def _decided_headers(self, ctx: CallContext) -> dict[str, str]:
        decision = ctx.decision
        headers = {"x-bastion-request-id": ctx.call.request_id}
        if decision is not None:
            headers["x-bastion-decision"] = decision.action.value
            # a tool stripped from the request changed the call: its rule says why
            stripped = (r.rule for r in ctx.tools_stripped)
            rules = tuple(dict.fromkeys((*decision.rules, *stripped)))
            if rules:
                headers["x-bastion-rules"] = ",".join(rules)
            if decision.redacted_classes:
                headers["x-bastion-redacted"] = ",".join(decision.redacted_classes)
            if decision.exception_id:
                headers["x-bastion-exception"] = decision.exception_id
            if decision.shadow_action is not None:
                headers["x-bastion-shadow-decision"] = decision.shadow_action.value
        if self.parts.decider.version:
            headers["x-bastion-policy"] = self.parts.decider.version
        if ctx.model_used:
            headers["x-bastion-model"] = ctx.model_used
        if ctx.reservation is not None:
            headers.update(ctx.reservation.headers)
        return headers

    def _local_reply(self, ctx: CallContext, exc: ApiError) -> Reply:
        """End the call here: the upstream never sees it (or it failed); record it."""
        ctx.http_status = exc.status
        ctx.error_code = exc.code
        ctx.provider = ctx.provider or exc.provider  # the upstream that failed, if one did
        ctx.status = CallStatus.BLOCKED if exc.status == 403 else CallStatus.FAILED
        if ctx.upstream_sent_at is not None:
            ctx.upstream_done_at = time.perf_counter()
            ctx.upstream_s = ctx.upstream_done_at - ctx.upstream_sent_at
        reply = self._error_reply(ctx, exc)
        if ctx.decision is not None or exc.status == 403:
            reply.headers.update(self._decided_headers(ctx))
            guard = ctx.answer_scan
            if isinstance(guard, OutputGuard) and guard.blocking_rules:  # the answer refused
                reply.headers["x-bastion-decision"] = Action.BLOCK.value
                _add_values(reply.headers, "x-bastion-rules", guard.blocking_rules)
        reply.finish = self._finisher(ctx)
        return reply

    def _error_reply(self, ctx: CallContext, exc: ApiError) -> Reply:
        self.parts.metrics.errors.labels(exc.code).inc()
        headers = {"content-type": _JSON, "x-bastion-request-id": ctx.call.request_id}
        headers.update(exc.headers)
        return Reply(exc.status, orjson.dumps(exc.body()), headers)

    def _finisher(self, ctx: CallContext) -> Finish:
        """Completion to run once the reply is out; the clock stops at the reply."""
        reply_at = time.perf_counter()

        async def finish() -> None:
            await self._complete(ctx, reply_at=reply_at)

        return finish

    async def _complete(self, ctx: CallContext, *, reply_at: float) -> None:
        """Settle limits and write the audit record: exactly once per call."""
        if ctx.finished:
            return
        ctx.finished = True
        p = self.parts
        if ctx.in_flight:
            p.metrics.in_flight.dec()
        received = ctx.call.received_at
        if ctx.upstream_sent_at is not None and ctx.upstream_done_at is not None:
            ctx.overhead_s = (ctx.upstream_sent_at - received) + (reply_at - ctx.upstream_done_at)
        else:
            ctx.overhead_s = reply_at - received
        try:
            if ctx.reservation is not None and ctx.principal is not None:
                with ctx.trace.phase("settle"):
                    ctx.cost_usd = await p.limiter.settle(ctx.principal, ctx.reservation, ctx.usage)
        finally:
            p.content.keep(ctx)  # before the record, which names the content's digest
            record = build_record(ctx)
            p.audit.submit(record)
            ctx.trace.end(record)
            forwarded = ctx.upstream_sent_at is not None
            p.metrics.observe_call(record, ctx.overhead_s if forwarded else None, ctx.upstream_s)
            if forwarded:
                p.overhead_samples.add(ctx.overhead_s)


def _add_output_redactions(headers: dict[str, str], guard: OutputGuard) -> None:
    """A complete answer's redactions join the request's in the headers (streams
    announce theirs in SSE comments); the record keeps them apart. The decision header
    is the strongest action applied (CONTRACT.md §6): an allowed call whose answer was
    redacted says ``redact``."""
    for name, added in (("x-bastion-redacted", guard.redacted), ("x-bastion-rules", guard.rules)):
        _add_values(headers, name, added)
    if headers.get("x-bastion-decision") == Action.ALLOW.value:
        headers["x-bastion-decision"] = Action.REDACT.value


def _add_values(headers: dict[str, str], name: str, added: Iterable[str]) -> None:
    """Join ``added`` to the comma-separated header ``name``, each value once."""
    known = [v for v in headers.get(name, "").split(",") if v]
    headers[name] = ",".join(dict.fromkeys([*known, *added]))


def _with_upstream_usage(body: dict[str, Any]) -> dict[str, Any]:
    """Ask the upstream for usage on streams so every billed token is counted (B2)."""
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        return body
    merged = dict(options) if isinstance(options, dict) else {}
    merged["include_usage"] = True
    return {**body, "stream_options": merged}


_INLINE_CHARS = 32 * 1024
"""Texts (requests, JSON answers) longer than this are scanned off the event loop."""
T = TypeVar("T")


async def _off_loop(size: int, scan: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Scan on the loop for ordinary prompts; in a thread for large ones, so that one
    pasted log or document does not stall every other call. The scan is linear but not
    cheap on machine text (~1 ms per 2 KB of logs): with 200 KB log pastes every 0.5 s
    among 100 small calls/s, scanning them on the loop (the limit was 256 KB) made the
    small calls' p99 177-302 ms; in a thread, 26-51 ms (the thread shares the GIL, so
    the paste itself took ~1.5x longer)."""
    if size <= _INLINE_CHARS:
        return scan(*args, **kwargs)
    return await asyncio.to_thread(scan, *args, **kwargs)


def _refusal(decision: Decision, findings: Sequence[Finding]) -> PermissionDenied:
    """The 403 a refused call gets: what decided it, which classes (never values), and
    how to get an exception (CONTRACT.md §5)."""
    details: dict[str, Any] = {
        "decision": decision.action.value,
        "rules": list(decision.rules),
        "classes": class_counts(findings),
    }
    if decision.exception_hint:
        details["exception_hint"] = decision.exception_hint
    if decision.exception_state:
        details["exception_state"] = decision.exception_state
    code = decision.code
    if code is None and decision.action is Action.REQUIRE_EXCEPTION:
        code = "exception_required"
    return PermissionDenied(
        decision.message or "This request is not allowed by policy.",
        code=code,
        param="bastion.exception" if code == "exception_invalid" else None,
        bastion=details,
    )


def _unrewritable(decision: Decision, exc: Unrewritable) -> Decision:
    """A redact decision turned into a block: what it would redact sits in a field name
    or identifier, which has no string to rewrite (forwarding it would break the rule)."""
    classes = ", ".join(exc.classes)
    return replace(
        decision,
        action=Action.BLOCK,
        redactions=(),
        redacted_classes=(),
        message=(
            f"The policy redacts {classes}, found in a field name or identifier of this "
            "request (a schema property, a metadata key, a tool or function name, an id), "
            "which Bastion cannot rewrite. Rename it or leave the value out."
        ),
    )


def class_counts(findings: Sequence[Finding]) -> dict[str, int]:
    """Classes found and how often: what a refusal may tell the caller (never values)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.data_class] = counts.get(finding.data_class, 0) + 1
    return dict(sorted(counts.items()))


def _undelivered(ctx: CallContext) -> None:
    """The client left while the upstream answered: the answer is billed as it came
    (its usage is real) and recorded as cancelled, like a stream the client left."""
    ctx.status = CallStatus.CANCELLED
