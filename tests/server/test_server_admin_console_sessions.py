"""The admin API's console sessions: ``GET /console/sessions`` lists who is signed in
(who, how, role, opened, last seen, ends), as ``bastion console sessions`` does, to the
admin and security roles; ``POST /console/sessions/sign-out`` ends every session or one
person's, as ``bastion console sign-out`` does, for the admin role only, and each is a
``console.sign_out`` admin event. Nothing answered would open a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from tests.console.console_client import (
    client,
    log_in,
    oidc_session,
    oidc_stack,
    sign_out_everyone,
    signed_in,
    token_id,
    token_session,
)
from tests.console.oidc_provider import (
    Provider,
    oidc_provider,
)
from tests.console.test_console_pages import admin_actions
from tests.server.admin_stack import AdminStack

from bastion.console.session import SESSION_COOKIE
from bastion.storage.console_sessions import ConsoleSessionRepository

pytestmark = pytest.mark.asyncio(loop_scope="module")

SAM = {"sub": "u-1", "email": "sam@example.com", "groups": ["bastion-security"]}
ADA = {"sub": "u-2", "email": "ada@example.com", "groups": ["bastion-admins"]}
SIGN_OUT = "/console/sessions/sign-out"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def provider() -> AsyncIterator[Provider]:
    async with oidc_provider() as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AdminStack]:
    roles = {"bastion-admins": "admin", "bastion-security": "security"}
    work: Path = tmp_path_factory.mktemp("admin-console-sessions")
    async with oidc_stack(work, provider, roles) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def nobody_signed_in(stack: AdminStack) -> None:
    """Each test starts with no console session open."""
    await sign_out_everyone(stack)


async def listed(stack: AdminStack, **params: Any) -> list[dict[str, Any]]:
    answer = await stack.api("security", "GET", "/console/sessions", **params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "list" and body["has_more"] is False
    sessions: list[dict[str, Any]] = body["data"]
    return sessions


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("GET", "/console/sessions", None, id="list"),
        pytest.param("POST", SIGN_OUT, {"all": True}, id="sign-out"),
    ],
)
async def test_without_a_token_both_answer_401(
    stack: AdminStack, method: str, path: str, body: Any
) -> None:
    answer = await stack.api(None, method, path, body)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("who", ["auditor", "owner"])
async def test_only_admin_and_security_may_list(stack: AdminStack, who: str) -> None:
    answer = await stack.api(who, "GET", "/console/sessions")
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "admin_role_required" and "needs admin or security" in error["message"]


@pytest.mark.parametrize("who", ["security", "auditor", "owner"])
async def test_only_the_admin_role_may_sign_out(stack: AdminStack, who: str) -> None:
    browser = await token_session(stack, "auditor")
    try:
        before = len(await admin_actions(stack))
        answer = await stack.api(who, "POST", SIGN_OUT, {"all": True})
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "admin_role_required"
        assert await signed_in(browser)
        assert len(await admin_actions(stack)) == before
    finally:
        await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_open_sessions_are_listed_with_role_and_last_seen(
    stack: AdminStack, provider: Provider
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    sec = await token_session(stack, "security")
    sam = await oidc_session(stack, provider, SAM)
    employee = client(stack)
    shop_id = stack.keys["shop"][0]
    assert (await log_in(employee, stack.keys["shop"][1])).status_code == 303
    try:
        assert await signed_in(sec)
        sessions = await listed(stack)
        who = {(s["subject"], s["opened_with"], s["id"], s["role"]) for s in sessions}
        assert who == {
            ("sec", "admin_token", await token_id(stack, "sec"), "security"),
            ("sam@example.com", "oidc", None, "security"),  # mapped from its groups
            (shop_id, "gateway_key", shop_id, None),
        }
        for session in sessions:
            assert set(session) == {
                "subject",
                "opened_with",
                "id",
                "role",
                "opened_at",
                "last_seen_at",
                "expires_at",
            }
            opened = datetime.fromisoformat(session["opened_at"])
            seen = datetime.fromisoformat(session["last_seen_at"])
            assert before <= opened <= seen <= datetime.now(UTC)
            lasts = datetime.fromisoformat(session["expires_at"]) - opened
            assert timedelta(hours=8) - timedelta(seconds=1) < lasts <= timedelta(hours=8)
    finally:
        for browser in (sec, sam, employee):
            await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_the_list_pages_and_narrows_to_one_subject(
    stack: AdminStack, provider: Provider
) -> None:
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "security"),
        await token_session(stack, "auditor"),
        await oidc_session(stack, provider, ADA),
    ]
    try:
        everyone = await listed(stack)
        assert len(everyone) == 4
        first = await stack.api("admin", "GET", "/console/sessions", limit=3)
        assert first.json()["has_more"] is True and len(first.json()["data"]) == 3
        cursor = first.json()["next_cursor"]
        rest = await stack.api("admin", "GET", "/console/sessions", limit=3, cursor=cursor)
        assert rest.json()["has_more"] is False
        assert first.json()["data"] + rest.json()["data"] == everyone

        mine = await listed(stack, subject="sec")
        assert [(s["subject"], s["role"]) for s in mine] == [("sec", "security")] * 2
        by_token = await listed(stack, subject=await token_id(stack, "aud"))
        assert [s["subject"] for s in by_token] == ["aud"]
        assert [s["role"] for s in await listed(stack, subject="ada@example.com")] == ["admin"]
        assert await listed(stack, subject="nobody") == []
        empty = await stack.api("admin", "GET", "/console/sessions", subject=" ")
        assert empty.status_code == 400 and empty.json()["error"]["param"] == "subject"
    finally:
        for browser in browsers:
            await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_nothing_answered_would_open_a_session(stack: AdminStack, provider: Provider) -> None:
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "admin"),
        await oidc_session(stack, provider, ADA),
    ]
    try:
        cookies = [b.cookies[SESSION_COOKIE] for b in browsers]
        now = datetime.now(UTC)
        rows = await ConsoleSessionRepository(stack.apps.runtime.database).list_open(now)
        secrets = [
            *cookies,
            *(cookie.split(".")[1] for cookie in cookies),  # the session ids
            *(cookie.rpartition(".")[2] for cookie in cookies),  # their signatures
            *(row.id_hash for row in rows),
            *(row.id_hash[:8] for row in rows),
        ]
        answer = await stack.api("admin", "GET", "/console/sessions", limit=1)
        assert answer.status_code == 200 and answer.json()["next_cursor"]
        pages = [answer.text]
        cursor = answer.json()["next_cursor"]
        while cursor:
            answer = await stack.api("admin", "GET", "/console/sessions", limit=1, cursor=cursor)
            pages.append(answer.text)
            cursor = answer.json()["next_cursor"]
        assert "ada@example.com" in "".join(pages)
        assert [s for s in secrets if any(s in text for text in pages)] == []
    finally:
        for browser in browsers:
            await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_sign_out_of_one_subject_ends_only_theirs_and_is_an_admin_event(
    stack: AdminStack, provider: Provider
) -> None:
    sam, ada = await oidc_session(stack, provider, SAM), await oidc_session(stack, provider, ADA)
    sec, aud = await token_session(stack, "security"), await token_session(stack, "auditor")
    try:
        answer = await stack.api("admin", "POST", SIGN_OUT, {"subject": "sam@example.com"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ended": 1, "subject": "sam@example.com"}
        assert [await signed_in(b) for b in (sam, ada, sec, aud)] == [False, True, True, True]

        # an admin token's subject: the sessions opened with its tokens
        answer = await stack.api("admin", "POST", SIGN_OUT, {"subject": " sec "})
        assert answer.json() == {"ended": 1, "subject": "sec"}
        assert [await signed_in(b) for b in (ada, sec, aud)] == [True, False, True]
        assert sorted(s["subject"] for s in await listed(stack)) == ["ada@example.com", "aud"]
    finally:
        for browser in (sam, ada, sec, aud):
            await browser.aclose()
    event = (await admin_actions(stack))[-1]
    assert (event["action"], event["target"], event["actor"], event["role"]) == (
        "console.sign_out",
        "sec",
        "root",
        "admin",
    )
    assert event["details"] == {"ended": 1}


@pytest.mark.usefixtures("nobody_signed_in")
async def test_sign_out_of_all_ends_every_session_and_is_an_admin_event(
    stack: AdminStack, provider: Provider
) -> None:
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "auditor"),
        await oidc_session(stack, provider, SAM),
    ]
    try:
        assert [await signed_in(b) for b in browsers] == [True, True, True]
        answer = await stack.api("admin", "POST", SIGN_OUT, {"all": True})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ended": 3, "subject": None}
        assert [await signed_in(b) for b in browsers] == [False, False, False]
        assert await listed(stack) == []
    finally:
        for browser in browsers:
            await browser.aclose()
    event = (await admin_actions(stack))[-1]
    assert (event["action"], event["target"], event["actor"], event["role"]) == (
        "console.sign_out",
        "*",
        "root",
        "admin",
    )
    assert event["details"] == {"ended": 3}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({}, None, id="neither"),
        pytest.param({"all": False}, None, id="all false"),
        pytest.param({"all": True, "subject": "sam"}, None, id="both"),
        pytest.param({"subject": " "}, "subject", id="empty subject"),
        pytest.param({"subject": "s" * 201}, "subject", id="long subject"),
        pytest.param({"all": True, "everyone": True}, "everyone", id="unknown field"),
    ],
)
async def test_sign_out_needs_all_or_one_subject(
    stack: AdminStack, body: dict[str, Any], param: str | None
) -> None:
    before = len(await admin_actions(stack))
    answer = await stack.api("admin", "POST", SIGN_OUT, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert param is None or error["param"] == param
    assert len(await admin_actions(stack)) == before
