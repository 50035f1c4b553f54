"""Every error of CONTRACT.md §5 the core can produce, as callers see it."""

from __future__ import annotations

import gzip
import json
import re
import socket
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import Stack

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _post(
    stack: Stack,
    body: bytes | dict[str, object],
    *,
    headers: dict[str, str] | None = None,
    path: str = "/chat/completions",
) -> httpx.Response:
    hdrs = {"authorization": f"Bearer {stack.key}", "content-type": "application/json"}
    hdrs.update(headers or {})
    if isinstance(body, dict):
        return httpx.post(stack.base_url + path, json=body, headers=hdrs)
    return httpx.post(stack.base_url + path, content=body, headers=hdrs)


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body["error"]) >= {"message", "type", "code", "param"}
    assert response.headers["x-bastion-request-id"].startswith("req_")
    error: dict[str, object] = body["error"]
    return error


@pytest.mark.parametrize(
    "key",
    [
        "",
        "sk-not-bastion",
        "bst_abcdefgh_" + "x" * 32,
        "bst_zzzzzzzz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_bad_keys_are_401(stack: Stack, key: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        stack.client(key or "x").chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "invalid_api_key"
    assert key[-10:] not in str(caught.value.body) or not key


def test_keys_created_and_revoked_while_running(stack: Stack) -> None:
    created = stack.create_key("--name", "live", "--env", "prod")
    key = str(created["key"])
    client = stack.client(key)
    assert client.models.list().data  # works at once, no restart
    stack.keys("revoke", str(created["id"]))
    # The key cache keeps an entry 5 s (identity/verifier.py) and a change notice drops
    # it sooner; 15 s leaves a loaded runner slack and still fails a key that keeps working.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            client.models.list()
        except openai.AuthenticationError:
            return
        time.sleep(0.1)
    pytest.fail("a revoked key still worked 15 s later")


def test_unknown_model_is_404(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        stack.client().chat.completions.create(
            model="gpt-9", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/files"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/images/generations"),
        ("GET", "/nope"),
    ],
)
def test_unknown_routes_are_404_unknown_url(stack: Stack, method: str, path: str) -> None:
    response = httpx.request(
        method,
        stack.base_url.removesuffix("/v1") + path,
        headers={"authorization": f"Bearer {stack.key}"},
    )
    assert response.status_code == 404
    assert _error(response)["code"] == "unknown_url"


@pytest.mark.parametrize(
    "body,code,param",
    [
        (b"{not json", "invalid_json", None),
        (b'{"model": "gpt-4o-mini", "model": "gpt-4o"}', "invalid_json", None),
        (b'{"model": "gpt-4o-mini", "messages": [], "n": 1}', "invalid_value", "messages"),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 1000}',
            "invalid_value",
            "n",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], '
            b'"max_tokens": 99999999999}',
            "invalid_value",
            "max_tokens",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\\ud800"}]}',
            "invalid_json",
            None,
        ),
        (b"\xff\xfe", "invalid_json", None),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], '
            b'"api_base": "http://evil.example/v1"}',
            "unsupported_parameter",
            "api_base",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], '
            b'"frobnicate": 1}',
            "unsupported_parameter",
            "frobnicate",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], '
            b'"bastion": {"untrusted": [{"message": 5}]}}',
            "invalid_value",
            "bastion.untrusted[0]",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], '
            b'"bastion": {"untrusted": [{"message": 0, "range": [0, 99]}]}}',
            "invalid_value",
            "bastion.untrusted[0]",
        ),
    ],
)
def test_bad_bodies_are_400_and_never_forwarded(
    stack: Stack, body: bytes, code: str, param: str | None
) -> None:
    stack.clear_captures()
    response = _post(stack, body)
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["code"] == code and error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert stack.captures() == []


def test_wrong_content_type_is_415(stack: Stack) -> None:
    response = _post(
        stack, b"model=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


def test_compressed_body_is_415_and_says_so(stack: Stack) -> None:
    """Bastion reads bodies as sent; a gzip body used to be parsed as bytes and answered
    with a misleading invalid_json about UTF-8 surrogates."""
    stack.clear_captures()
    response = _post(
        stack, gzip.compress(json.dumps(CHAT).encode()), headers={"content-encoding": "gzip"}
    )
    assert response.status_code == 415
    error = _error(response)
    assert error["code"] == "unsupported_media_type"
    assert "Content-Encoding" in str(error["message"])
    assert stack.captures() == []
    identity = _post(stack, CHAT, headers={"content-encoding": "identity"})
    assert identity.status_code == 200


def test_oversized_body_is_413(stack: Stack) -> None:
    big = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 70_000}]}
    response = _post(stack, big)
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"


def test_too_many_headers_is_431(stack: Stack) -> None:
    response = _post(stack, CHAT, headers={f"x-filler-{i}": "y" * 50 for i in range(150)})
    assert response.status_code == 431
    assert _error(response)["code"] == "headers_too_large"


def test_stalled_body_is_408(stack: Stack) -> None:
    host, port = stack.base_url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + stack.key.encode() + b'\r\nContent-Length: 500\r\n\r\n{"mo'
        )
        reply = b""
        while b"request_timeout" not in reply and (chunk := sock.recv(4096)):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408")
    assert b"request_timeout" in reply


def test_upstream_timeout_is_504(stack: Stack) -> None:
    stack.script("fault-upstream", {"fault": "slow_first_byte", "seconds": 5, "times": 2})
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.create(
            model="fault-chat", messages=[{"role": "user", "content": "slow"}]
        )
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"


def test_upstream_html_200_is_502(stack: Stack) -> None:
    stack.script("fault-upstream", {"fault": "html_200", "times": 2})
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.create(
            model="fault-chat", messages=[{"role": "user", "content": "html"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_error"


def test_an_upstream_failure_is_counted_against_its_provider(stack: Stack) -> None:
    """bastion_upstream_errors_total says which provider failed (it said provider="")."""
    stack.script("fault-upstream", {"fault": "html_200", "times": 2})
    with pytest.raises(openai.APIStatusError):
        stack.client().chat.completions.create(
            model="fault-chat", messages=[{"role": "user", "content": "html"}]
        )
    auth = {"authorization": f"Bearer {stack.admin_token}"}
    deadline = time.monotonic() + 60
    while True:  # the record (and its metrics) completes after the reply
        text = httpx.get(f"{stack.admin_url}/metrics", headers=auth).text
        found = re.findall(r"bastion_upstream_errors_total\{([^}]*)\} ([0-9.]+)", text)
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    series = [dict(re.findall(r'(\w+)="([^"]*)"', labels)) for labels, _ in found]
    assert {"code": "upstream_error", "provider": "sim"} in series
    assert all(labels["provider"] for labels in series)  # never provider=""


def test_context_length_error_passes_through(stack: Stack) -> None:
    stack.script(
        "fault-upstream",
        {
            "fault": "status",
            "status": 400,
            "code": "context_length_exceeded",
            "message": "This model's maximum context length is 128000.",
        },
    )
    with pytest.raises(openai.BadRequestError) as caught:
        stack.client().chat.completions.create(
            model="fault-chat", messages=[{"role": "user", "content": "long"}]
        )
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length" in caught.value.message
