"""Upstream misbehaviour on demand (RELIABILITY.md "Faults to drill").

A wire module renders the normal answer as ``Rendered`` (status, headers and body
frames: one frame per SSE event, or the whole JSON body). ``plan_delivery`` turns it
into a ``Delivery``: what to send, when to pause, and whether to drop the connection.
Faults that replace the answer outright (``status``, ``rate_limit``, ``html_200``)
come from ``replacement_response``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

FAULT_NAMES = frozenset(
    {
        "html_200",
        "big_event",
        "crlf",
        "no_done",
        "split_utf8",
        "status",
        "rate_limit",
        "slow_first_byte",
        "stall",
        "error_mid_stream",
        "disconnect",
        "garbled",
        "truncated",
        "comments",
        "pace",
    }
)
BIG_EVENT_BYTES = 5 * 1024 * 1024 + 1024
JSON_HEADERS = ((b"content-type", b"application/json"),)
KEEP_ALIVE = b": keep-alive\n\n"

Step = bytes | float  # bytes: send them; float: pause that many seconds


@dataclass(frozen=True, slots=True)
class Rendered:
    """A normal answer ready to send: frames are SSE events, or one JSON body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    frames: tuple[bytes, ...]
    kind: Literal["chat", "responses", "json"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How to send a response: first-byte delay, steps, and an abrupt end or not."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    steps: tuple[Step, ...]
    delay_s: float = 0.0
    abort: bool = False


_ERROR_SHAPES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to make this request."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_CONTEXT_MESSAGE = (
    "This model's maximum context length is 128000 tokens. However, your messages "
    "resulted in 130000 tokens. Please reduce the length of the messages."
)


def error_body(
    status: int, *, code: Any = None, message: Any = None, error_type: Any = None
) -> bytes:
    """An OpenAI error body for ``status``; ``code``/``message``/``type`` override."""
    default_type, default_code, default_message = _ERROR_SHAPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
    )
    code = code if code is not None else default_code
    if message is None:
        message = _CONTEXT_MESSAGE if code == "context_length_exceeded" else default_message
    param = "messages" if code == "context_length_exceeded" else None
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": error_type or default_type,
                "param": param,
                "code": code,
            }
        }
    )


def _number(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    return float(value) if isinstance(value, int | float) else default


def replacement_response(fault: str, params: Mapping[str, Any]) -> Delivery | None:
    """The whole response for faults that replace the answer, else None."""
    delay = _number(params, "delay", 0.0)
    if fault == "status":
        status = int(_number(params, "status", 500))
        body = error_body(
            status,
            code=params.get("code"),
            message=params.get("message"),
            error_type=params.get("type"),
        )
        return Delivery(status, JSON_HEADERS, (body,), delay)
    if fault == "rate_limit":
        seconds = _number(params, "seconds", 1.0)
        headers = (
            *JSON_HEADERS,
            (b"retry-after", str(max(int(seconds), 0)).encode()),
            (b"retry-after-ms", str(int(seconds * 1000)).encode()),
            (b"x-ratelimit-remaining-requests", b"0"),
        )
        return Delivery(429, headers, (error_body(429),), delay)
    if fault == "html_200":
        html = b"<!DOCTYPE html><html><head><title>Gateway</title></head><body>ok</body></html>"
        return Delivery(200, ((b"content-type", b"text/html; charset=utf-8"),), (html,), delay)
    return None


def _mid_stream_error(rendered: Rendered, sequence_number: int, message: str | None) -> bytes:
    message = message or "The server had an error while processing your request. Sorry about that!"
    if rendered.kind == "responses":
        event = {
            "type": "error",
            "code": "server_error",
            "message": message,
            "param": None,
            "sequence_number": sequence_number,
        }
        return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
    error = {"message": message, "type": "server_error", "param": None, "code": None}
    return b"data: " + orjson.dumps({"error": error}) + b"\n\n"


def _split_bytes(frames: tuple[bytes, ...], size: int) -> tuple[bytes, ...]:
    data = b"".join(frames)
    return tuple(data[start : start + size] for start in range(0, len(data), size))


def plan_delivery(rendered: Rendered, fault: str | None, params: Mapping[str, Any]) -> Delivery:
    """Apply a delivery-level fault (or none) to a rendered answer."""
    frames = rendered.frames
    base = Delivery(rendered.status, rendered.headers, frames)
    if fault is None:
        return base
    streaming = rendered.kind != "json"
    after = max(int(_number(params, "after", 2)), 0)
    if not streaming:
        # a JSON body is one frame: mid-body faults cut it in half
        body = frames[0]
        frames = (body[: len(body) // 2], body[len(body) // 2 :])
        after = 1
    after = min(after, len(frames))
    head, tail = frames[:after], frames[after:]
    if fault == "slow_first_byte":
        return Delivery(base.status, base.headers, frames, _number(params, "seconds", 5.0))
    if fault == "stall":
        return Delivery(base.status, base.headers, (*head, _number(params, "seconds", 30.0), *tail))
    if fault == "disconnect":
        return Delivery(base.status, base.headers, head, abort=True)
    if fault == "truncated":
        cut = tail[0][: max(len(tail[0]) // 2, 1)] if tail else b""
        return Delivery(base.status, base.headers, (*head, cut))
    if fault == "garbled":
        if not streaming:
            return Delivery(base.status, base.headers, (b'{"id": "chatcmpl-garbled", choices',))
        return Delivery(base.status, base.headers, (*head, b"data: {not json at all\n\n", *tail))
    if fault == "split_utf8":
        return Delivery(
            base.status, base.headers, _split_bytes(frames, int(_number(params, "bytes", 1)))
        )
    if not streaming:
        return base
    if fault == "error_mid_stream":
        return Delivery(
            base.status,
            base.headers,
            (*head, _mid_stream_error(rendered, after, _text(params, "message"))),
        )
    if fault == "crlf":
        return Delivery(base.status, base.headers, tuple(f.replace(b"\n", b"\r\n") for f in frames))
    if fault == "no_done":
        return Delivery(base.status, base.headers, frames[:-1])
    if fault == "pace":  # a model generating tokens: one event per 1/per_s seconds
        gap = 1.0 / max(_number(params, "per_s", 50.0), 0.001)
        paced: list[Step] = []
        for frame in frames:
            paced += [frame, gap]
        return Delivery(base.status, base.headers, tuple(paced[:-1]))
    if fault == "comments":
        interleaved: list[Step] = [KEEP_ALIVE]
        for frame in frames:
            interleaved += [frame, KEEP_ALIVE]
        return Delivery(base.status, base.headers, tuple(interleaved))
    return base  # big_event changes the content itself, not the delivery


def _text(params: Mapping[str, object], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) else None
