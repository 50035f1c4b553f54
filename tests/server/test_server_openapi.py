"""The proxy's OpenAPI document (docs/openapi/proxy.json) is valid and matches the live app.

The live half builds the apps in-process (``create_apps``), starts the runtime by hand,
serves the project's simulator on a real local port as the upstream, and drives every
documented route through ``httpx.ASGITransport``: each status seen must be documented
for its route, each JSON body must fit the documented schema, and undocumented routes
must answer 404 ``unknown_url``.
"""

# ruff: noqa: E501 -- LIVE_ROWS keeps one request per line.

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bastion.config.schema import BastionConfig
from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.identity.issuing import KeySpec, create_key
from bastion.model import Endpoint
from bastion.server.app import create_apps
from bastion.server.proxy import ROUTES
from bastion.testing import SimulatorOptions, create_app
from bastion.wire.fields import PASSTHROUGH, SCANNED

DOC_PATH = Path(__file__).parents[2] / "docs" / "openapi" / "proxy.json"
DOC: dict[str, Any] = json.loads(DOC_PATH.read_text(encoding="utf-8"))
DOC_URI = "urn:bastion:proxy-openapi"
REGISTRY: Registry[Any] = Registry().with_resource(
    DOC_URI, Resource.from_contents(DOC, default_specification=DRAFT202012)
)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
CHAT_MODEL, EMBED_MODEL = "gpt-4o-mini", "text-embedding-3-small"


def documented_routes() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in DOC["paths"].items()
        for method in item
        if method in METHODS
    }


def operation_for(method: str, path: str) -> dict[str, Any] | None:
    """The documented operation serving a concrete request path, if any."""
    for template, item in DOC["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    return None


def validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{DOC_URI}{ref}"}, registry=REGISTRY)


def schema_ref(response_doc: dict[str, Any], media_type: str) -> str:
    ref: str = response_doc["content"][media_type]["schema"]["$ref"]
    return ref


# ---- the document itself ---------------------------------------------------------------------


def test_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"].startswith("3.1")
    validate_openapi(DOC)


def test_document_lists_exactly_the_served_routes() -> None:
    assert documented_routes() == set(ROUTES)


@pytest.mark.parametrize(
    ("schema", "endpoint"),
    [
        ("ChatCompletionRequest", Endpoint.CHAT),
        ("ResponsesRequest", Endpoint.RESPONSES),
        ("EmbeddingsRequest", Endpoint.EMBEDDINGS),
    ],
)
def test_request_schemas_list_exactly_the_accepted_fields(schema: str, endpoint: Endpoint) -> None:
    documented = DOC["components"]["schemas"][schema]
    assert documented["additionalProperties"] is False
    accepted = SCANNED[endpoint] | PASSTHROUGH[endpoint] | {"bastion"}
    assert set(documented["properties"]) == accepted


def test_bastion_extension_is_documented_as_the_contract_says() -> None:
    schemas = DOC["components"]["schemas"]
    assert set(schemas["BastionExtension"]["properties"]) == {"untrusted", "exception", "end_user"}
    assert set(schemas["UntrustedMark"]["properties"]) == {"message", "part", "range"}
    example = {
        "untrusted": [
            {"message": 3},
            {"message": 1, "part": 2},
            {"message": 0, "range": [120, 980]},
        ],
        "exception": "exc_1",
        "end_user": "u",
    }
    validator("#/components/schemas/BastionExtension").validate(example)
    assert not validator("#/components/schemas/BastionExtension").is_valid({"policy": "off"})


def test_every_operation_documents_request_id_on_every_response() -> None:
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                assert "x-bastion-request-id" in response.get("headers", {}), (method, path, status)


def test_unsupported_openai_routes_are_named_in_the_description() -> None:
    description = DOC["info"]["description"]
    assert "unknown_url" in description
    for route in (
        "/v1/files",
        "/v1/batches",
        "/v1/audio",
        "/v1/images",
        "/v1/realtime",
        "/v1/completions",
        "/v1/fine_tuning",
        "/v1/assistants",
        "/v1/vector_stores",
        "/v1/moderations",
    ):
        assert route in description


# ---- against the live app --------------------------------------------------------------------


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@pytest.fixture
async def simulator_url() -> AsyncIterator[str]:
    """The simulator on a real port (the providers speak HTTP through aiohttp)."""
    sock = _listening_socket()
    config = uvicorn.Config(
        create_app(SimulatorOptions(api_key="sk-sim-openapi")),
        lifespan="on",
        log_level="warning",
        ws="none",
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no start event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def gateway(
    simulator_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An httpx client on the in-process proxy app, and a gateway key for it."""
    target = {"provider": "sim", "model": CHAT_MODEL}
    config = BastionConfig.model_validate(
        {
            "server": {"max_body_bytes": 4096, "max_headers": 16, "body_timeout_s": 2},
            "storage": {"url": f"sqlite:///{tmp_path / 'gateway.db'}"},
            "providers": {
                "sim": {
                    "kind": "openai",
                    "base_url": simulator_url,
                    "api_key": "sk-sim-openapi",
                    "retry": {"max_attempts": 1},
                }
            },
            "models": {
                CHAT_MODEL: {"targets": [target]},
                EMBED_MODEL: {"kind": "embedding", "targets": [{**target, "model": EMBED_MODEL}]},
            },
        }
    )
    apps = create_apps(config)
    await apps.runtime.start()
    try:
        issued = await create_key(
            apps.runtime.keys, KeySpec(name="openapi"), actor=AdminIdentity("t", AdminRole.ADMIN)
        )
        transport = httpx.ASGITransport(app=apps.proxy)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client, issued.plaintext
    finally:
        await apps.runtime.close()


CHAT_BODY = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hello there"}]}
LIVE_ROWS = [
    # (id, method, path, json body or raw bytes, headers, expected status)
    ("chat-ok", "POST", "/v1/chat/completions", CHAT_BODY, {}, 200),
    ("chat-no-key", "POST", "/v1/chat/completions", CHAT_BODY, {"authorization": None}, 401),
    ("chat-bad-key", "POST", "/v1/chat/completions", CHAT_BODY, {"authorization": "Bearer bst_nope"}, 401),
    ("chat-bad-json", "POST", "/v1/chat/completions", b'{"model":', {}, 400),
    ("chat-forbidden-field", "POST", "/v1/chat/completions", {**CHAT_BODY, "api_base": "http://x"}, {}, 400),
    ("chat-bad-mark", "POST", "/v1/chat/completions", {**CHAT_BODY, "bastion": {"untrusted": [{"message": 9}]}}, {}, 400),
    ("chat-unknown-model", "POST", "/v1/chat/completions", {**CHAT_BODY, "model": "gpt-99"}, {}, 404),
    ("chat-embedding-model", "POST", "/v1/chat/completions", {**CHAT_BODY, "model": EMBED_MODEL}, {}, 400),
    ("chat-too-large", "POST", "/v1/chat/completions", {**CHAT_BODY, "user": "x" * 5000}, {}, 413),
    ("chat-upstream-500", "POST", "/v1/chat/completions", {**CHAT_BODY, "messages": [{"role": "user", "content": "[[sim:fault=status,status=500]]"}]}, {}, 502),
    ("chat-upstream-401", "POST", "/v1/chat/completions", {**CHAT_BODY, "messages": [{"role": "user", "content": "[[sim:fault=status,status=401]]"}]}, {}, 502),
    ("chat-wrong-type", "POST", "/v1/chat/completions", CHAT_BODY, {"content-type": "text/plain"}, 415),
    ("chat-many-headers", "POST", "/v1/chat/completions", CHAT_BODY, {f"x-h{i}": "v" for i in range(20)}, 431),
    ("responses-ok", "POST", "/v1/responses", {"model": CHAT_MODEL, "input": "hi"}, {}, 200),
    ("responses-no-input", "POST", "/v1/responses", {"model": CHAT_MODEL}, {}, 400),
    ("responses-no-key", "POST", "/v1/responses", {"model": CHAT_MODEL, "input": "hi"}, {"authorization": None}, 401),
    ("embeddings-ok", "POST", "/v1/embeddings", {"model": EMBED_MODEL, "input": ["a", "b"]}, {}, 200),
    ("embeddings-stream", "POST", "/v1/embeddings", {"model": EMBED_MODEL, "input": "a", "stream": True}, {}, 400),
    ("embeddings-chat-model", "POST", "/v1/embeddings", {"model": CHAT_MODEL, "input": "a"}, {}, 400),
    ("scan-ok", "POST", "/v1/bastion/scan", {"text": "hello"}, {}, 200),
    ("scan-bad-field", "POST", "/v1/bastion/scan", {"text": "hello", "model": "x"}, {}, 400),
    ("scan-no-key", "POST", "/v1/bastion/scan", {"text": "hello"}, {"authorization": None}, 401),
    ("models-ok", "GET", "/v1/models", None, {}, 200),
    ("models-no-key", "GET", "/v1/models", None, {"authorization": None}, 401),
    ("model-ok", "GET", f"/v1/models/{CHAT_MODEL}", None, {}, 200),
    ("model-unknown", "GET", "/v1/models/gpt-99", None, {}, 404),
    ("model-no-key", "GET", f"/v1/models/{CHAT_MODEL}", None, {"authorization": None}, 401),
    ("healthz", "GET", "/healthz", None, {}, 200),
    ("readyz", "GET", "/readyz", None, {}, 200),
]  # fmt: skip


async def send(
    client: httpx.AsyncClient, key: str, method: str, path: str, body: Any, headers: dict[str, Any]
) -> httpx.Response:
    merged: dict[str, Any] = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    merged.update(headers)
    sent = {k: v for k, v in merged.items() if v is not None}
    content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return await client.request(method, path, content=content, headers=sent)


def check_against_document(method: str, path: str, response: httpx.Response) -> dict[str, Any]:
    """The status, headers and JSON body of a live response fit the documented operation."""
    operation = operation_for(method, path)
    assert operation is not None, f"{method} {path} is not documented"
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path} answered undocumented {status}"
    documented = operation["responses"][status]
    assert response.headers["x-bastion-request-id"].startswith("req_")
    for name in response.headers:
        if name.startswith("x-bastion-"):
            assert name in documented["headers"], (
                f"{name} undocumented for {method} {path} {status}"
            )
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type in documented["content"]
    if media_type == "application/json":
        validator(schema_ref(documented, media_type)).validate(response.json())
    return documented


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [pytest.param(*r[1:], id=r[0]) for r in LIVE_ROWS],
)
async def test_live_route_answers_a_documented_status(
    gateway: tuple[httpx.AsyncClient, str],
    method: str,
    path: str,
    body: Any,
    headers: dict[str, Any],
    status: int,
) -> None:
    client, key = gateway
    response = await send(client, key, method, path, body, headers)
    assert response.status_code == status, response.text
    check_against_document(method, path, response)
    if path != "/v1/bastion/scan" and method == "POST" and status == 200:
        assert response.headers["x-bastion-decision"] == "allow"
        assert response.headers["x-bastion-model"] == response.json()["model"] == body["model"]


async def test_live_error_body_names_the_field(gateway: tuple[httpx.AsyncClient, str]) -> None:
    client, key = gateway
    body = {**CHAT_BODY, "n": 100000}
    response = await send(client, key, "POST", "/v1/chat/completions", body, {})
    check_against_document("POST", "/v1/chat/completions", response)
    assert response.json()["error"] == {
        "message": "n must be between 1 and 128.",
        "type": "invalid_request_error",
        "code": "invalid_value",
        "param": "n",
    }


@pytest.mark.parametrize(
    ("upstream_status", "code"), [(500, "upstream_error"), (401, "upstream_auth_failed")]
)
async def test_live_upstream_failure_after_decision(
    gateway: tuple[httpx.AsyncClient, str], upstream_status: int, code: str
) -> None:
    client, key = gateway
    directive = f"[[sim:fault=status,status={upstream_status}]]"
    body = {**CHAT_BODY, "messages": [{"role": "user", "content": directive}]}
    response = await send(client, key, "POST", "/v1/chat/completions", body, {})
    documented = check_against_document("POST", "/v1/chat/completions", response)
    assert (response.status_code, response.json()["error"]["code"]) == (502, code)
    assert "sk-sim-openapi" not in response.text
    assert response.headers["x-bastion-decision"] == "allow"
    assert "x-bastion-decision" in documented["headers"]


async def test_live_chat_stream_is_documented_event_stream(
    gateway: tuple[httpx.AsyncClient, str],
) -> None:
    client, key = gateway
    path = "/v1/chat/completions"
    response = await send(client, key, "POST", path, {**CHAT_BODY, "stream": True}, {})
    assert response.status_code == 200
    check_against_document("POST", path, response)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    chunk = validator("#/components/schemas/ChatCompletionChunk")
    for event in events[:-1]:
        chunk.validate(json.loads(event))
    text = "".join(
        (c["delta"].get("content") or "") for e in events[:-1] for c in json.loads(e)["choices"]
    )
    assert text == "hello there"


def sse_events(text: str) -> list[dict[str, str]]:
    """Events as OpenAPI 3.1 reads a ``text/event-stream`` body: one object per event."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            if name:  # a line starting with ":" is a comment
                fields[name] = (
                    fields[name] + "\n" + value.strip() if name in fields else value.strip()
                )
        if fields:
            events.append(fields)
    return events


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/v1/chat/completions", {**CHAT_BODY, "stream": True}, id="chat"),
        pytest.param(
            "/v1/responses", {"model": CHAT_MODEL, "input": "hi", "stream": True}, id="responses"
        ),
    ],
)
async def test_every_streamed_event_fits_the_documented_event_schema(
    gateway: tuple[httpx.AsyncClient, str], path: str, body: dict[str, Any]
) -> None:
    """Before OpenAPI 3.2 (no ``itemSchema``) the ``schema`` of an event stream describes
    each event ({event, data, id, retry}); Schemathesis checks streams that way."""
    client, key = gateway
    response = await send(client, key, "POST", path, body, {})
    assert response.status_code == 200
    documented = operation_for("POST", path)["responses"]["200"]["content"]["text/event-stream"]
    schema = documented["schema"]
    check = validator(schema["$ref"]) if "$ref" in schema else Draft202012Validator(schema)
    events = sse_events(response.text)
    assert events
    for event in events:
        check.validate(event)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/files"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/batches"),
        ("POST", "/v1/images/generations"),
        ("POST", "/v1/audio/transcriptions"),
        ("POST", "/v1/moderations"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/v1/models"),
        ("GET", "/v1/models/"),
        ("GET", "/"),
    ],
)
async def test_undocumented_route_is_unknown_url(
    gateway: tuple[httpx.AsyncClient, str], method: str, path: str
) -> None:
    client, key = gateway
    assert operation_for(method, path) is None
    response = await send(client, key, method, path, None, {})
    assert response.status_code == 404
    validator("#/components/schemas/Error").validate(response.json())
    assert response.json()["error"]["code"] == "unknown_url"
    assert response.headers["x-bastion-request-id"].startswith("req_")
