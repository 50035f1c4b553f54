"""Turning an upstream's unhappy answer into the error Bastion gives its caller.

CONTRACT.md §5: upstream 401/403 → 502 ``upstream_auth_failed`` (generic message, the
operator must fix the provider key); 429 and 5xx → 502 ``upstream_error``; timeouts
→ 504 ``upstream_timeout``. 4xx answers that are the caller's fault
(`CALLER_FAULT_STATUSES`) keep their status as an `InvalidRequest`; the upstream's
message passes through only when its error ``code`` is in `PASSTHROUGH_CODES`, and even
then with anything key-shaped scrubbed out and the upstream model name replaced by the
public one. Every other upstream message is replaced by a generic one, because
upstream text can echo prompt content, deployment names or credentials.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from bastion.errors import ApiError, InvalidRequest, UpstreamFailed

#: Upstream statuses that mean "this request is wrong", not "the upstream is broken".
CALLER_FAULT_STATUSES = frozenset({400, 404, 409, 413, 415, 422})

#: Upstream error codes whose message helps the caller fix the request and carries no
#: upstream secret (OpenAI and Azure OpenAI error codes).
PASSTHROUGH_CODES = frozenset(
    {
        "context_length_exceeded",  # prompt + max_tokens beyond the model's window
        "string_above_max_length",  # one string field longer than allowed
        "invalid_prompt",  # prompt flagged by the provider's usage policy
        "content_filter",  # Azure content filter refused the prompt
        "unsupported_parameter",  # e.g. max_tokens on a reasoning model
        "unsupported_value",  # e.g. temperature not supported by the model
    }
)

#: Top-level fields of a real answer (chat, Responses, embeddings, models).
_ANSWER_FIELDS = frozenset({"object", "choices", "output", "data", "id"})

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")

_MAX_MESSAGE_CHARS = 500
_KEY_SHAPED = re.compile(
    r"(?:\bsk-[A-Za-z0-9_\-]{6,})|(?:\bBearer\s+\S+)|(?:\bbst_[A-Za-z0-9]{8}_[A-Za-z0-9]{6,})",
    re.IGNORECASE,
)
_REDACTED = "[redacted]"


def scrub_message(
    message: str, *, secret: str | None, upstream_model: str, public_model: str
) -> str:
    """An upstream message made safe to show: capped, keys removed, public model named."""
    text = message[:_MAX_MESSAGE_CHARS]
    if secret:
        text = text.replace(secret, _REDACTED)
    text = _KEY_SHAPED.sub(_REDACTED, text)
    if upstream_model != public_model:
        text = text.replace(upstream_model, public_model)
    return text


def _error_object(body: bytes) -> dict[str, Any]:
    """The `error` object of an OpenAI-style error body, or {} when there is none."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return parsed["error"]  # type: ignore[no-any-return]
    return {}


def error_in_answer(body: bytes) -> dict[str, Any] | None:
    """The `error` object of a 2xx body that is an error and not an answer, else None.

    Some OpenAI-compatible servers and proxies answer 200 with ``{"error": {...}}``.
    Only a body with an `error` object and none of an answer's own fields counts: a
    Responses object carries ``"error": null`` (or an error beside its ``status``), and
    a model's text mentioning "error" is escaped inside a string.
    """
    if b'"error"' not in body:  # the common case: no parse at all
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("error"), dict):
        return None
    if not _ANSWER_FIELDS.isdisjoint(parsed):
        return None
    return parsed["error"]  # type: ignore[no-any-return]


def error_in_first_event(chunk: bytes) -> dict[str, Any] | None:
    """The error of a stream whose first event (complete within ``chunk``) is an error:
    chat's ``data: {"error": {...}}`` or Responses' ``{"type": "error", ...}``; else None.

    Only the first event is read, and only when it has fully arrived; a stream that
    opens with anything else (a comment, an answer) is left for the relay to judge.
    """
    if b"error" not in chunk:  # the common case: no parse at all
        return None
    end = _EVENT_END.search(chunk)
    if end is None:
        return None
    data = [
        line[5:].removeprefix(b" ")
        for line in chunk[: end.start()].splitlines()
        if line.startswith(b"data:")
    ]
    try:
        payload = orjson.loads(b"\n".join(data)) if data else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("error"), dict) and _ANSWER_FIELDS.isdisjoint(payload):
        return payload["error"]  # type: ignore[no-any-return]
    if payload.get("type") == "error":
        return {name: payload.get(name) for name in ("code", "message", "param")}
    return None


def map_status_error(
    status: int,
    body: bytes,
    *,
    secret: str | None,
    upstream_model: str,
    public_model: str,
) -> ApiError:
    """The caller-facing error for a final, non-2xx upstream answer."""
    if status in (401, 403):
        return UpstreamFailed(
            "The upstream provider refused Bastion's credentials; "
            "an operator needs to check the provider key.",
            code="upstream_auth_failed",
            status=502,
        )
    if status not in CALLER_FAULT_STATUSES:
        return UpstreamFailed(
            f"The upstream provider failed (status {status}); try again later.",
            code="upstream_error",
            status=502,
        )
    error = _error_object(body)
    code = error.get("code")
    message = error.get("message")
    if isinstance(code, str) and code in PASSTHROUGH_CODES and isinstance(message, str):
        param = error.get("param")
        return InvalidRequest(
            scrub_message(
                message, secret=secret, upstream_model=upstream_model, public_model=public_model
            ),
            code=code,
            param=param if isinstance(param, str) and len(param) <= 100 else None,
            status=status,
        )
    return InvalidRequest(
        f"The upstream provider rejected the request (status {status}).",
        code="upstream_error",
        status=status,
    )


def unexpected_content_type() -> UpstreamFailed:
    """A 2xx answer that is not what was asked for (an HTML page, JSON for a stream)."""
    return UpstreamFailed(
        "The upstream provider answered with an unexpected content type.",
        code="upstream_error",
        status=502,
    )


def error_answer() -> UpstreamFailed:
    """A 2xx answer whose body is an upstream error object (its text is not shown)."""
    return UpstreamFailed(
        "The upstream provider answered with an error; try again later.",
        code="upstream_error",
        status=502,
    )


def no_healthy_target(public_model: str) -> UpstreamFailed:
    """Every target of the model has an open circuit breaker."""
    return UpstreamFailed(
        f"No healthy upstream for model {public_model!r}; try again later.",
        code="upstream_error",
        status=502,
    )


def deadline_exceeded() -> UpstreamFailed:
    """The call's total time budget ran out."""
    return UpstreamFailed(
        "The upstream provider did not answer in time.", code="upstream_timeout", status=504
    )


def answer_too_large(limit: int) -> UpstreamFailed:
    """A non-streamed 2xx answer longer than the provider's ``max_response_bytes``."""
    return UpstreamFailed(
        f"The upstream provider's answer was larger than the gateway accepts "
        f"({limit} bytes, max_response_bytes).",
        code="upstream_error",
        status=502,
    )
