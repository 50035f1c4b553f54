"""An exception must be for a rule that refuses calls: the admin API refuses (400
``rule_not_waivable``) a request, and an approval, for an ``allow`` rule, a tool rule or
``model.unapproved`` of the active policy; an exception approved before its rule stopped
refusing stays, harmless, through the gateway."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.server.admin_stack import MODEL, AdminStack, admin_stack

pytestmark = pytest.mark.asyncio

SECRET = "my key is AKIAQ3EGRTZ5LXKW7NUC and wJa1rXUtnFEMI/K7MDENG/bPxRfiCYz9kq2Lw8e"  # live-shaped
REFUSING = """\
name: rules
version: v1
rules:
  - id: secrets.block
    match: {classes: ["secret.*"]}
    action: block
  - id: ops.allow
    match: {team: ops}
    action: allow
tools:
  constraints:
    - {id: tools.fetch, tool: fetch_url, arguments: {url: {domains: [docs.example.com]}}}
"""
ALLOWING = REFUSING.replace("version: v1", "version: v2").replace(
    "    action: block\n", "    action: allow\n"
)


def _request(rule: str) -> dict[str, Any]:
    return {
        "rule": rule,
        "scope": {"app": "shop"},
        "justification": "key rotation",
        "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
    }


async def _activate(stack: AdminStack, content: str, prefix: str) -> None:
    answer = await stack.api("security", "POST", "/policies/activate", {"content": content})
    assert answer.status_code == 200, answer.text
    for _ in range(200):  # the gateway picks the activation up from the store's feed
        if (stack.apps.runtime.gateway.parts.decider.version or "").startswith(prefix):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the gateway never loaded {prefix}")


async def _call_naming(stack: AdminStack, exc_id: str) -> Any:
    return await stack.proxy.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {stack.keys['shop'][1]}"},
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": SECRET}],
            "bastion": {"exception": exc_id},
        },
    )


def _refused(answer: Any, param: str | None) -> str:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (
        "rule_not_waivable",
        "invalid_request_error",
        param,
    )
    message: str = error["message"]
    return message


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        pytest.param("ops.allow", "is an allow rule: it refuses no call", id="allow-rule"),
        pytest.param("model.unapproved", "only the policy approves models", id="model-approval"),
        pytest.param("tools.fetch", "exceptions do not waive tool rules", id="tool-constraint"),
    ],
)
async def test_a_request_for_a_rule_that_refuses_nothing_is_400(
    tmp_path_factory: pytest.TempPathFactory, rule: str, why: str
) -> None:
    async with admin_stack(tmp_path_factory.mktemp("exception-rules")) as stack:
        await _activate(stack, REFUSING, "rules@v1+")
        message = _refused(await stack.api("owner", "POST", "/exceptions", _request(rule)), "rule")
        assert f"rule {rule!r}" in message and why in message and "rules@v1+" in message
        listed = await stack.api("auditor", "GET", "/exceptions")
        assert listed.json()["data"] == []


async def test_a_rule_that_stopped_refusing_cannot_be_approved_and_old_ones_are_harmless(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with admin_stack(tmp_path_factory.mktemp("exception-rules")) as stack:
        await _activate(stack, REFUSING, "rules@v1+")
        pending, kept = [
            (await stack.api("owner", "POST", "/exceptions", _request("secrets.block"))).json()[
                "id"
            ]
            for _ in range(2)
        ]
        approved = await stack.api("security", "POST", f"/exceptions/{kept}/approve")
        assert approved.status_code == 200, approved.text
        for _ in range(200):  # the gateway loads the approval from the store's feed
            waived = await _call_naming(stack, kept)
            if waived.status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert waived.headers["x-bastion-exception"] == kept

        await _activate(stack, ALLOWING, "rules@v2+")
        message = _refused(
            await stack.api("security", "POST", f"/exceptions/{pending}/approve"), None
        )
        assert f"exception {pending} cannot be approved: rule 'secrets.block'" in message
        assert "rules@v2+" in message and "Deny it instead" in message
        still = await stack.api("auditor", "GET", f"/exceptions/{pending}")
        assert still.json()["state"] == "requested"
        denied = await stack.api("security", "POST", f"/exceptions/{pending}/deny")
        assert denied.status_code == 200, denied.text

        # the approved one stays approved and a call naming it goes ahead, waiving nothing
        assert (await stack.api("auditor", "GET", f"/exceptions/{kept}")).json()["state"] == (
            "approved"
        )
        after = await _call_naming(stack, kept)
        assert after.status_code == 200, after.text
        assert after.headers["x-bastion-decision"] == "allow"
        assert after.headers["x-bastion-rules"] == "secrets.block"
        assert "x-bastion-exception" not in after.headers


async def test_a_request_for_a_rule_the_policy_lacks_is_kept_and_the_answer_says_so(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with admin_stack(tmp_path_factory.mktemp("exception-rules")) as stack:
        await _activate(stack, REFUSING, "rules@v1+")
        typo = await stack.api("owner", "POST", "/exceptions", _request("secret.block"))
        assert typo.status_code == 201, typo.text
        (warning,) = typo.json()["warnings"]
        assert "has no rule 'secret.block'" in warning and "waives nothing" in warning
        approved = await stack.api("security", "POST", f"/exceptions/{typo.json()['id']}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["warnings"] == [warning]

        known = await stack.api("owner", "POST", "/exceptions", _request("secrets.block"))
        assert known.status_code == 201, known.text
        assert known.json()["warnings"] == []
        read = await stack.api("auditor", "GET", f"/exceptions/{typo.json()['id']}")
        assert read.json()["warnings"] == []  # a warning belongs to the change, not the record
