"""Audit records of calls whose answer a policy acted on, through the real gateway and the
SDK: the record names the rule that refused or changed the answer, never its values."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import Stack, running_stack

ROOT = Path(__file__).resolve().parents[2]
# a connection string in the answer: the enterprise policy's answers.secrets refuses it
LEAK = "postgres://admin:Sup3rS3cretPassw0rd@db.internal.example.net:5432/prod"
EXTRA = """\
policy: {file: policy.yaml}
detectors: {custom: {customer_id: {regex: "CUST-[0-9]{6}", sensitivity: confidential}}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-audit-records")
    shutil.copy(ROOT / "examples" / "policies" / "enterprise.yaml", work / "policy.yaml")
    with running_stack(work, EXTRA) as running:
        yield running


def record(stack: Stack, request_id: str) -> dict[str, Any]:
    """The call's audit record as the admin API serves it (once shipped)."""
    deadline = time.monotonic() + 60
    while True:
        reply = httpx.get(
            f"{stack.admin_url}/admin/api/audit/events/{request_id}",
            headers={"authorization": f"Bearer {stack.admin_token}"},
        )
        if reply.status_code == 200:
            found: dict[str, Any] = reply.json()["record"]
            return found
        assert time.monotonic() < deadline, "the call was never recorded"
        time.sleep(0.1)


def test_an_answer_refused_by_an_output_rule_is_recorded_with_that_rule(stack: Stack) -> None:
    stack.script("gpt-4o-mini", {"content": f"use {LEAK} to connect"})
    with pytest.raises(openai.PermissionDeniedError) as raised:
        stack.client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "how do I connect?"}]
        )
    assert "answers.secrets" in raised.value.message
    headers = raised.value.response.headers
    assert headers["x-bastion-decision"] == "block"
    assert headers["x-bastion-rules"] == "answers.secrets"
    found = record(stack, headers["x-bastion-request-id"])
    assert (found["status"], found["http_status"]) == ("blocked", 403)
    assert found["request_facts"]["output_blocked"] == {
        "classes": {"secret.connection_string": 1},
        "rules": ["answers.secrets"],
    }
    assert "Sup3rS3cretPassw0rd" not in json.dumps(found)


def test_a_stream_refused_by_an_output_rule_is_recorded_with_that_rule(stack: Stack) -> None:
    stack.script("gpt-4o-mini", {"content": f"use {LEAK} to connect"})
    with stack.client().chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "how do I connect?"}],
        stream=True,
    ) as response:
        request_id = response.headers["x-bastion-request-id"]
        with pytest.raises(openai.APIError, match=r"answers\.secrets"):
            for _ in response.parse():
                pass
    found = record(stack, request_id)
    assert found["status"] == "blocked"
    assert found["request_facts"]["output_blocked"]["rules"] == ["answers.secrets"]


def test_a_credential_in_a_tool_name_is_refused_and_never_recorded(stack: Stack) -> None:
    secret = "AKIA" + "Q3EGRTZ5LXKW7NUC"  # shaped like an AWS access key id, no example
    tools: Any = [
        {"type": "function", "function": {"name": secret, "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
    ]
    with pytest.raises(openai.PermissionDeniedError) as raised:
        stack.client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], tools=tools
        )
    assert secret not in json.dumps(raised.value.body)
    found = record(stack, raised.value.response.headers["x-bastion-request-id"])
    assert found["rules"] == ["secrets.block"]
    assert secret not in json.dumps(found)
    # the tools offered are still listed; the one holding the credential by its class
    assert found["request_facts"]["tools"] == ["[secret.aws_access_key]", "get_weather"]


def test_a_credential_as_a_metadata_key_is_not_where_a_finding_sat(stack: Stack) -> None:
    secret = "AKIA" + "Q3EGRTZ5LXKW7NUC"
    with pytest.raises(openai.PermissionDeniedError) as raised:
        stack.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            store=True,
            metadata={secret: "write to dana@example.com"},
        )
    found = record(stack, raised.value.response.headers["x-bastion-request-id"])
    assert secret not in json.dumps(found)
    places = {(f["data_class"], f["location"]) for f in found["findings"]}
    assert ("pii.email", "metadata.[secret.aws_access_key]") in places
