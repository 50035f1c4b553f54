"""One HTTP attempt against one target, judged: a usable answer or a classified failure.

The router decides what to do next (retry, fall back, give up); this module only
says what happened. A usable answer is a 2xx whose content is what was asked for:
JSON for a plain call (the body must start with ``{``; a cheap check that catches
HTML error pages and empty bodies without parsing twice) that is not an error object
(``{"error": {...}}`` with a 200, which some compatible servers send);
``text/event-stream`` for a stream, whose first bytes have arrived and do not open
with an error event. Reading the first stream bytes here, before handing the stream
over, means a stream that stalls, drops or fails before saying anything
can still be retried.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from bastion.config.schema import TimeoutsConfig
from bastion.errors import ApiError, UpstreamFailed
from bastion.model.trace_context import UPSTREAM_TRACEPARENT
from bastion.providers.adapters import PreparedTarget
from bastion.providers.responses import UpstreamResponse, UpstreamStream, kept_headers
from bastion.providers.retry import RETRYABLE_STATUSES, parse_retry_after
from bastion.providers.transport import ProviderTransport
from bastion.providers.upstream_errors import (
    CALLER_FAULT_STATUSES,
    PASSTHROUGH_CODES,
    answer_too_large,
    error_answer,
    error_in_answer,
    error_in_first_event,
    map_status_error,
    unexpected_content_type,
)

_MAX_ERROR_BODY_BYTES = 64 * 1024
_STARTS_AS_JSON_OBJECT = re.compile(rb"\s*\{")


@dataclass(frozen=True, slots=True)
class AttemptFailure:
    """Why an attempt failed and what that allows.

    `retryable`: the same target may be tried again. `fallback`: another target may
    serve the call (false only when the request itself is at fault). `unhealthy`: the
    failure counts against the target's circuit breaker. `retry_after_s`: the
    upstream's own wait hint, if any.
    """

    error: ApiError
    retryable: bool
    fallback: bool
    unhealthy: bool
    retry_after_s: float | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class AttemptContext:
    """The facts of one call that every attempt of it shares."""

    public_model: str
    started: float
    on_stream_failure: Callable[[], None]


def _transport_failure(error: UpstreamFailed) -> AttemptFailure:
    return AttemptFailure(error=error, retryable=True, fallback=True, unhealthy=True)


def _bad_content() -> AttemptFailure:
    return AttemptFailure(
        error=unexpected_content_type(), retryable=True, fallback=True, unhealthy=True
    )


def _error_answer_failure(
    answered: dict[str, Any], target: PreparedTarget, public_model: str
) -> AttemptFailure:
    """A 2xx that is an error object (the body, or a stream's first event): the
    request's own fault when its code says so (an allow-listed code, answered as a
    400), else a failure of the upstream."""
    code = answered.get("code")
    if isinstance(code, str) and code in PASSTHROUGH_CODES:
        error = map_status_error(
            400,
            orjson.dumps({"error": answered}),
            secret=target.secret,
            upstream_model=target.upstream_model,
            public_model=public_model,
        )
        return AttemptFailure(error=error, retryable=False, fallback=False, unhealthy=False)
    return AttemptFailure(
        error=error_answer(), retryable=True, fallback=True, unhealthy=True, status=200
    )


async def _status_failure(
    response: aiohttp.ClientResponse,
    target: PreparedTarget,
    public_model: str,
    *,
    idle_s: float,
    deadline: float,
) -> AttemptFailure:
    status = response.status
    try:
        body = await ProviderTransport.read_body(
            response, idle_s=idle_s, deadline=deadline, limit=_MAX_ERROR_BODY_BYTES
        )
    except UpstreamFailed:
        body = b""
    error = map_status_error(
        status,
        body[:_MAX_ERROR_BODY_BYTES],
        secret=target.secret,
        upstream_model=target.upstream_model,
        public_model=public_model,
    )
    retryable = status in RETRYABLE_STATUSES
    return AttemptFailure(
        error=error,
        retryable=retryable,
        fallback=status not in CALLER_FAULT_STATUSES,
        unhealthy=retryable or status >= 500,
        retry_after_s=parse_retry_after(response.headers) if retryable else None,
        status=status,
    )


async def run_attempt(
    transport: ProviderTransport,
    target: PreparedTarget,
    url: str,
    payload: bytes,
    *,
    stream: bool,
    timeouts: TimeoutsConfig,
    max_response_bytes: int,
    context: AttemptContext,
    attempts: int,
    total_deadline: float,
    now: float,
) -> UpstreamResponse | UpstreamStream | AttemptFailure:
    """Send one attempt; return the answer, or the failure judged for the router."""
    first_byte_deadline = min(now + timeouts.first_byte_s, total_deadline)
    try:
        headers = target.headers(stream=stream)
        traceparent = UPSTREAM_TRACEPARENT.get()
        if traceparent is not None:  # a traced call: the upstream joins its trace
            headers = {**headers, "traceparent": traceparent}
        response = await transport.post(url, headers, payload, deadline=first_byte_deadline)
    except UpstreamFailed as error:
        return _transport_failure(error)
    handed_over = False
    try:
        if not 200 <= response.status < 300:
            return await _status_failure(
                response,
                target,
                context.public_model,
                idle_s=timeouts.idle_s,
                deadline=total_deadline,
            )
        content_type = response.headers.get("content-type", "")
        if stream:
            if not content_type.startswith("text/event-stream"):
                return _bad_content()
            try:
                first_chunk = await ProviderTransport.read_chunk(
                    response, deadline=first_byte_deadline
                )
            except UpstreamFailed as error:
                return _transport_failure(error)
            if not first_chunk:
                return _bad_content()
            opening_error = error_in_first_event(first_chunk)
            if opening_error is not None:  # nothing reached the caller: fail this attempt
                return _error_answer_failure(opening_error, target, context.public_model)
            loop_now = _loop_time()
            handed_over = True
            return UpstreamStream(
                response=response,
                first_chunk=first_chunk,
                provider=target.provider,
                upstream_model=target.upstream_model,
                public_model=context.public_model,
                attempts=attempts,
                first_byte_ms=(loop_now - context.started) * 1000.0,
                idle_s=timeouts.idle_s,
                deadline=total_deadline,
                on_failure=context.on_stream_failure,
            )
        if content_type and "json" not in content_type:
            return _bad_content()
        try:
            body = await ProviderTransport.read_body(
                response,
                idle_s=timeouts.idle_s,
                deadline=total_deadline,
                limit=max_response_bytes + 1,
            )
        except UpstreamFailed as error:
            return _transport_failure(error)
        if len(body) > max_response_bytes:
            # never held whole (a hostile or broken upstream could send gigabytes); the
            # same call would likely come back as large, so another target is tried
            return AttemptFailure(
                error=answer_too_large(max_response_bytes),
                retryable=False,
                fallback=True,
                unhealthy=True,
                status=response.status,
            )
        if _STARTS_AS_JSON_OBJECT.match(body) is None:
            return _bad_content()
        answered_error = error_in_answer(body)
        if answered_error is not None:
            return _error_answer_failure(answered_error, target, context.public_model)
        return UpstreamResponse(
            status=response.status,
            body=body,
            headers=kept_headers(response.headers),
            provider=target.provider,
            upstream_model=target.upstream_model,
            public_model=context.public_model,
            attempts=attempts,
            upstream_ms=(_loop_time() - context.started) * 1000.0,
        )
    finally:
        if not handed_over:
            # A fully read body leaves a reusable connection; anything else is closed.
            if response.content.at_eof():
                response.release()
            else:
                response.close()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
