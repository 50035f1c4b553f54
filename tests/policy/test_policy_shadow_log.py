"""A shadow rule marked ``log: true`` through a running gateway: the call goes ahead, its
record keeps what the rule would have done and marks the rule logged, and the gateway
logs the rule's id (never the text)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tests.server.admin_stack import AdminStack, admin_stack

pytestmark = pytest.mark.asyncio

PROMPT = "Please write to dana.lopez@example.com about the invoice."
TRIAL = """\
name: trial
version: v1
rules:
  - id: mail.trial
    match: {classes: [pii.email]}
    action: block
    shadow: true
    log: true
  - id: secrets.block
    match: {classes: ["secret.*"]}
    action: block
"""


async def _activate(stack: AdminStack, content: str, prefix: str) -> None:
    response = await stack.api("security", "POST", "/policies/activate", {"content": content})
    assert response.status_code == 200, response.text
    for _ in range(200):  # the gateway picks the activation up from the store's feed
        if (stack.apps.runtime.gateway.parts.decider.version or "").startswith(prefix):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the gateway never loaded {prefix}")


async def _record(stack: AdminStack, request_id: str) -> dict[str, object]:
    await stack.settle()
    response = await stack.api("security", "GET", f"/audit/events/{request_id}")
    assert response.status_code == 200, response.text
    record: dict[str, object] = response.json()["record"]
    return record


@pytest.mark.parametrize(
    ("policy", "prefix"),
    [
        pytest.param(TRIAL, "trial@v1+", id="shadow-rule"),
        pytest.param(
            TRIAL.replace("version: v1\n", "version: v2\nshadow: true\n").replace(
                "    shadow: true\n", ""
            ),
            "trial@v2+",
            id="shadow-policy",
        ),
    ],
)
async def test_a_shadow_rule_marked_log_is_recorded_and_logged(
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
    policy: str,
    prefix: str,
) -> None:
    async with admin_stack(tmp_path_factory.mktemp("shadow-log")) as stack:
        await _activate(stack, policy, prefix)
        caplog.set_level(logging.INFO)
        answer = await stack.chat("shop", PROMPT)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-bastion-decision"] == "allow"
        assert answer.headers["x-bastion-shadow-decision"] == "block"
        request_id = answer.headers["x-bastion-request-id"]
        facts = (await _record(stack, request_id))["request_facts"]
        assert isinstance(facts, dict)
        assert facts["shadow"] == {"decision": "block", "rules": ["mail.trial"]}
        assert facts["logged_rules"] == ["mail.trial"]
        logged = [r.getMessage() for r in caplog.records if "marked log" in r.getMessage()]
        assert any("mail.trial" in line and request_id in line for line in logged), logged
        assert not any("dana.lopez" in r.getMessage() for r in caplog.records)

        quiet = await stack.chat("shop", "good morning")
        quiet_facts = (await _record(stack, quiet.headers["x-bastion-request-id"]))["request_facts"]
        assert isinstance(quiet_facts, dict) and "logged_rules" not in quiet_facts
