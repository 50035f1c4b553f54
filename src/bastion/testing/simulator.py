"""The simulator ASGI app: routing, authentication, reply choice and delivery.

``create_app(options)`` returns a raw ASGI callable (with lifespan support) serving the
OpenAI routes under ``/v1/...`` and the Azure forms ``/openai/deployments/{name}/...``
(the deployment is the model), plus the unauthenticated control routes ``/_sim/...``.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from bastion.testing.answer import (
    NON_ASCII_SAMPLE,
    Answer,
    last_user_chat_text,
    last_user_responses_text,
    structured_content,
)
from bastion.testing.asgi import Receive, Scope, Send, read_body, send_delivery, send_json
from bastion.testing.chat import render_chat
from bastion.testing.citations import place_citations
from bastion.testing.control import Reply, SimulatorState, parse_directives
from bastion.testing.control_api import handle_control
from bastion.testing.embeddings import (
    EmbeddingInputError,
    model_object,
    render_embeddings,
    render_models,
)
from bastion.testing.faults import (
    BIG_EVENT_BYTES,
    JSON_HEADERS,
    Delivery,
    plan_delivery,
    replacement_response,
)
from bastion.testing.responses import render_responses

_OPERATIONS = {"chat/completions": "chat", "responses": "responses", "embeddings": "embeddings"}
_PREFIXES = ("/v1/", "/openai/v1/", "/openai/")
_AZURE_PREFIX = "/openai/deployments/"


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """How the simulator behaves: required key, added latency, capture bound, delta size."""

    api_key: str | None = None
    latency_ms: float = 0
    capture_limit: int = 1000
    stream_chunk_chars: int = 16

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.capture_limit < 0 or self.stream_chunk_chars < 1:
            raise ValueError("latency_ms and capture_limit must be >= 0, stream_chunk_chars >= 1")


def _error(message: str, code: str | None = None) -> dict[str, Any]:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return {"error": error}


def _route(path: str) -> tuple[str, str | None, str | None] | None:
    """(operation, deployment, model id) for an API path, or None when unknown."""
    deployment = None
    if path.startswith(_AZURE_PREFIX):
        deployment, _, rest = path[len(_AZURE_PREFIX) :].partition("/")
    else:
        prefix = next((p for p in _PREFIXES if path.startswith(p)), None)
        if prefix is None:
            return None
        rest = path[len(prefix) :]
    rest = rest.rstrip("/")
    if rest in _OPERATIONS:
        return _OPERATIONS[rest], deployment or None, None
    if rest == "models":
        return "models", None, None
    if rest.startswith("models/") and len(rest) > 7:
        return "model", None, rest[7:]
    return None


class Simulator:
    """The ASGI callable; ``state`` holds queues, captures and counters for tests."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.state = SimulatorState(options.capture_limit)
        self._delay_s = options.latency_ms / 1000.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_sim/"):
            await handle_control(self.state, scope, receive, send)
            return
        await self._api(scope, receive, send, path)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        authorization = headers.get("authorization", "")
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        azure_key = headers.get("api-key", "")
        expected = self.options.api_key
        if expected is None:
            return bool(token or azure_key)
        return any(
            hmac.compare_digest(given.encode(), expected.encode())
            for given in (token, azure_key)
            if given
        )

    async def _reply(self, send: Send, status: int, payload: Any) -> None:
        self.state.statuses[status] += 1
        await send_json(send, status, payload, _response_headers())

    async def _api(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        method: str = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw = await read_body(receive)
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                bad_json = True
        self.state.capture(path, method, headers, body)
        route = _route(path)
        expected_method = "GET" if route and route[0] in ("models", "model") else "POST"
        if route is None or method != expected_method:
            self.state.requests["unknown"] += 1
            await self._reply(send, 404, _error(f"Invalid URL ({method} {path})"))
            return
        operation, deployment, model_id = route
        self.state.requests[operation] += 1
        if not self._authorized(headers):
            message = "Incorrect API key provided. You can find your API key in your settings."
            await self._reply(send, 401, _error(message, "invalid_api_key"))
            return
        if operation == "models":
            await self._finish(send, render_models())
            return
        if operation == "model":
            await self._finish(send, orjson.dumps(model_object(model_id or "")))
            return
        if bad_json or not isinstance(body, dict):
            message = (
                "We could not parse the JSON body of your request. The OpenAI API expects "
                "a JSON payload."
            )
            await self._reply(send, 400, _error(message))
            return
        model = deployment or body.get("model")
        if not isinstance(model, str) or not model:
            await self._reply(send, 400, _error("You must provide a model parameter."))
            return
        await self._generate(send, operation, body, model)

    async def _finish(self, send: Send, payload: bytes) -> None:
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        self.state.statuses[200] += 1
        await send_delivery(send, _json_delivery(payload), _response_headers())

    async def _generate(self, send: Send, operation: str, body: dict[str, Any], model: str) -> None:
        if operation == "embeddings":
            try:
                payload = render_embeddings(body, model)
            except EmbeddingInputError as error:
                await self._reply(send, 400, _error(str(error)))
                return
            await self._finish(send, payload)
            return
        if operation == "chat":
            user_text = last_user_chat_text(body.get("messages"))
            response_format = body.get("response_format")
        else:
            user_text = last_user_responses_text(body.get("input"))
            text_config = body.get("text")
            response_format = text_config.get("format") if isinstance(text_config, dict) else None
        try:
            reply = self.state.next_scripted(model) or parse_directives(user_text) or Reply()
        except ValueError as error:
            await self._reply(send, 400, _error(str(error)))
            return
        fault, params = reply.fault, reply.params
        if fault is not None:
            self.state.faults[fault] += 1
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        delivery = replacement_response(fault, params) if fault else None
        if delivery is None:
            try:
                answer = _answer(reply, user_text, response_format)
            except ValueError as error:  # a scripted citation that the answer does not hold
                await self._reply(send, 400, _error(str(error)))
                return
            chunk_chars = self.options.stream_chunk_chars
            if fault == "big_event":
                chunk_chars = max(chunk_chars, len(answer.content or ""))
            render = render_chat if operation == "chat" else render_responses
            stream = body.get("stream") is True
            rendered = render(body, model, answer, stream=stream, chunk_chars=chunk_chars)
            delivery = plan_delivery(rendered, fault, params)
        self.state.statuses[delivery.status] += 1
        await send_delivery(send, delivery, _response_headers())


def _answer(reply: Reply, user_text: str, response_format: Any) -> Answer:
    """The answer for a reply: scripted tool calls, refusal or text, else the echo of
    the user; scripted reasoning before any of them, scripted citations placed in the
    final text (ValueError when a quote is not there)."""
    if reply.tool_calls:
        return Answer(None, reply.tool_calls, reasoning=reply.reasoning)
    if reply.refusal is not None:
        return Answer(None, refusal=reply.refusal, reasoning=reply.reasoning)
    if reply.content is not None:
        text = reply.content
    else:
        text = structured_content(user_text, response_format)
    if reply.fault == "big_event":
        text = "x" * BIG_EVENT_BYTES
    elif reply.fault == "split_utf8" and text.isascii():
        text = f"{NON_ASCII_SAMPLE} {text}"
    citations = place_citations(text, reply.citations)
    return Answer(text, reasoning=reply.reasoning, citations=citations)


def _json_delivery(payload: bytes) -> Delivery:
    return Delivery(200, JSON_HEADERS, (payload,))


def _response_headers() -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"x-request-id", b"req_" + os.urandom(16).hex().encode()),
        (b"openai-processing-ms", b"1"),
        (b"openai-version", b"2020-10-01"),
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(options: SimulatorOptions | None = None) -> Simulator:
    """Build a simulator ASGI app; each app has its own queues, captures and counters."""
    return Simulator(options or SimulatorOptions())
