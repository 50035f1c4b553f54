"""Replay in the admin API and the console's policy page: recent recorded calls
re-decided under a stored or pasted version, the calls whose decision would change
listed with before → after and the rules, a bounded number per request and a cursor to
older calls; readers only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from tests.console.console_client import form_token, logged_in
from tests.server.admin_stack import POLICY_V2, AdminStack, admin_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAIL = "please write to dana@example.com about the invoice"
PLAIN = "what is the capital of France?"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AdminStack]:
    """Three recorded calls under v1: two redacted (shop, crm), one allowed (ops)."""
    async with admin_stack(tmp_path_factory.mktemp("replay")) as running:
        for key, text in (("shop", MAIL), ("ops", PLAIN), ("crm", MAIL)):
            answer = await running.chat(key, text)
            assert answer.status_code == 200, answer.text
        await running.settle()
        yield running


async def replay(stack: AdminStack, who: str, params: Any = None, **body: Any) -> Any:
    answer = await stack.api(who, "POST", "/policies/replay", body, **(params or {}))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_candidate_lists_the_calls_whose_decision_changes(stack: AdminStack) -> None:
    result = await replay(stack, "auditor", policy={"content": POLICY_V2})
    assert result["policy"].startswith("team@v2+")
    assert (result["records"], result["replayed"], result["changed"]) == (3, 3, 2)
    assert result["unchanged"] == 1 and result["transitions"] == {"redact → block": 2}
    assert [call["app"] for call in result["data"]] == ["crm", "shop"]  # newest first
    call = result["data"][0]
    assert call["before"]["action"] == "redact" and call["before"]["rules"] == ["pii.redact"]
    assert call["after"]["action"] == "block" and call["after"]["rules"] == ["pii.redact"]
    assert call["before"]["redactions"] and not call["after"]["redactions"]
    assert call["transition"] == "redact → block" and call["rule"] == "pii.redact"
    assert call["incomplete"] is False
    assert MAIL not in str(result) and "dana@" not in str(result)  # facts, never content


async def test_the_active_version_changes_nothing(stack: AdminStack) -> None:
    result = await replay(stack, "security")
    assert result["policy"].startswith("team@v1+")
    assert (result["replayed"], result["changed"], result["data"]) == (3, 0, [])


async def test_replay_pages_through_older_calls(stack: AdminStack) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await replay(stack, "admin", params, policy={"content": POLICY_V2})
        assert page["records"] <= 2
        seen += [call["request_id"] for call in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 2
    assert cursor is None


async def test_replay_input_is_checked(stack: AdminStack) -> None:
    for body, params, code in (
        ({}, {"limit": 0}, "invalid_value"),
        ({}, {"limit": 100000}, "invalid_value"),
        ({}, {"cursor": "not-a-cursor"}, "invalid_value"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, {}, "invalid_value"),
        ({"limit": 5}, {}, "invalid_value"),  # a query parameter, not a body field
        ({"policy": {"content": "rules: [{id: x}]"}}, {}, "invalid_policy"),
        ({"policy": {"version": "ffffffffffff"}}, {}, "policy_not_found"),
    ):
        answer = await stack.api("auditor", "POST", "/policies/replay", body, **params)
        assert answer.status_code in (400, 404), answer.text
        assert answer.json()["error"]["code"] == code, (body, answer.text)


async def test_the_policy_page_shows_replay_results(stack: AdminStack) -> None:
    stored = await stack.governance.policies.upload(
        POLICY_V2, name="team", label="v2", source="v2.yaml", by="sec"
    )
    async with logged_in(stack, "auditor") as browser:
        page = await browser.get("/console/policy")
        assert 'id="replay"' in page.text and 'name="candidate"' in page.text
        shown = await browser.get(
            "/console/policy", params={"replay": str(stored.id), "window": "24h", "calls": "100"}
        )
        assert shown.status_code == 200, shown.text
        text = shown.text
        assert "<strong>3</strong> replayed" in text and "<strong>2</strong> changed" in text
        assert "redact → block: 2" in text
        assert text.count('class="decision-block">block</span>') == 2
        assert "/console/audit/" in text and MAIL not in text
        bad = await browser.get("/console/policy", params={"replay": "active", "window": "1y"})
        assert bad.status_code == 400
    async with logged_in(stack, "owner") as browser:
        page = await browser.get("/console/policy")
        assert 'id="replay"' not in page.text
        refused = await browser.get("/console/policy", params={"replay": "active"})
        assert refused.status_code == 200 and "replayed" not in refused.text


async def test_the_policy_page_replays_a_pasted_candidate_page_by_page(
    stack: AdminStack,
) -> None:
    async with logged_in(stack, "security") as browser:
        page = await browser.get("/console/policy")
        csrf = form_token(page.text)
        form = {"csrf": csrf, "candidate": POLICY_V2, "window": "7d", "calls": "100"}
        shown = await browser.post("/console/policy/replay", data=form)
        assert shown.status_code == 200, shown.text
        assert "<strong>2</strong> changed" in shown.text and "team@v2+" in shown.text
        assert "Replay the next" not in shown.text
        assert "pii.redact" in shown.text  # the pasted text is kept in the form
        broken = await browser.post(
            "/console/policy/replay", data={**form, "candidate": "rules: [{id: x}]"}
        )
        assert broken.status_code == 400 and "invalid_policy" in broken.text
        refused = await browser.post("/console/policy/replay", data={**form, "csrf": "x"})
        assert refused.status_code == 403
