"""Console login with OpenID Connect, end to end against a provider on a loopback port:
the code flow with PKCE, state and nonce, an ID token verified before anything else,
groups mapped to Bastion roles (the strongest wins; none: refused), and sessions that act
— and are audited — as the signed-in subject."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from joserfc.jwk import RSAKey
from tests.console.console_client import form_token, oidc_stack
from tests.console.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    oidc_provider,
)
from tests.console.test_console_pages import admin_actions
from tests.server.admin_stack import AdminStack, identity

from bastion.console.oidc import STATE_COOKIE
from bastion.console.session import SESSION_COOKIE

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROLE_MAP = {
    "bastion-admins": "admin",
    "bastion-security": "security",
    "bastion-auditors": "auditor",
    "app-owners": "app_owner",
}
SECURITY = {"sub": "u-1", "email": "sam@example.com", "groups": ["staff", "bastion-security"]}
AUDITOR = {"sub": "u-2", "email": "ada@example.com", "groups": ["bastion-auditors"]}
CAROL = {"sub": "u-3", "email": "carol@example.com", "groups": ["app-owners"], "apps": ["crm"]}
NOBODY = {"sub": "u-4", "email": "eve@example.com", "groups": ["staff"]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def provider() -> AsyncIterator[Provider]:
    async with oidc_provider() as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AdminStack]:
    work = tmp_path_factory.mktemp("console-oidc")
    async with oidc_stack(work, provider, ROLE_MAP, apps_claim="apps") as running:
        yield running


@pytest.fixture(autouse=True)
def clean_provider(provider: Provider) -> None:
    provider.tamper.clear()
    provider.user = {}


def browser(stack: AdminStack, provider: Provider) -> httpx.AsyncClient:
    """A cookie jar that reaches the console in-process and the provider over loopback."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.apps.admin),
        mounts={provider.issuer: httpx.AsyncHTTPTransport()},
        base_url="http://admin",
        follow_redirects=True,
        timeout=60,
    )


async def sign_in(
    client: httpx.AsyncClient, provider: Provider, user: dict[str, Any]
) -> httpx.Response:
    """Click "Sign in with Test IdP" as ``user``; the answer at the end of the redirects."""
    provider.user = dict(user)
    return await client.get("/console/oidc/login")


def session_cookie(client: httpx.AsyncClient) -> str | None:
    return client.cookies.get(SESSION_COOKIE)


async def test_the_login_page_offers_the_provider_beside_the_token(
    stack: AdminStack, provider: Provider
) -> None:
    async with browser(stack, provider) as client:
        page = await client.get("/console/login")
        assert "Sign in with Test IdP" in page.text
        assert 'href="/console/oidc/login"' in page.text
        assert 'name="token"' in page.text


async def test_signing_in_opens_a_strict_session_as_the_mapped_role(
    stack: AdminStack, provider: Provider
) -> None:
    async with browser(stack, provider) as client:
        answer = await sign_in(client, provider, SECURITY)
        assert answer.status_code == 200, answer.text
        assert str(answer.url).startswith("http://admin/console/oidc/callback?")
        assert "Signed in as sam@example.com (security)" in answer.text
        assert '<meta http-equiv="refresh" content="0;url=/console/">' in answer.text
        cookies = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]
        (session,) = [c for c in cookies if c.startswith(SESSION_COOKIE + "=")]
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/console" in session
        assert any(c.startswith(STATE_COOKIE + '=""') for c in cookies)  # state forgotten
        for secret in (CLIENT_SECRET, "sam@example.com", "bastion-security"):
            assert secret not in " ".join(cookies)  # the user is signed and encoded, not plain
        page = await client.get("/console/exceptions")
        assert page.status_code == 200
        assert "sam@example.com <small>(security)</small>" in page.text
        assert "Request an exception" in page.text


async def test_the_authorization_request_uses_pkce_state_and_nonce(
    stack: AdminStack, provider: Provider
) -> None:
    async with browser(stack, provider) as client:
        client.follow_redirects = False
        start = await client.get("/console/oidc/login")
        assert start.status_code == 303
        target = httpx.URL(start.headers["location"])
        assert str(target).startswith(provider.issuer + "/authorize?")
        query = dict(target.params)
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["redirect_uri"] == "http://admin/console/oidc/callback"
        assert set(query["scope"].split()) == {"openid", "profile", "email"}
        assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
        cookie = next(v for k, v in start.headers.multi_items() if k == "set-cookie")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/console/oidc/callback" in cookie
        second = await client.get("/console/oidc/login")
        assert dict(httpx.URL(second.headers["location"]).params)["state"] != query["state"]


async def test_an_auditor_reads_the_queue_but_cannot_approve(
    stack: AdminStack, provider: Provider
) -> None:
    requested = await stack.governance.request_exception(
        identity("owner"),
        rule="secrets.block",
        scope={"app": "shop"},
        justification="vendor migration",
        expires_at=datetime.now(UTC) + timedelta(days=3),
    )
    async with browser(stack, provider) as client:
        await sign_in(client, provider, AUDITOR)
        queue = await client.get("/console/exceptions")
        assert queue.status_code == 200 and requested.id in queue.text
        assert f"/console/exceptions/{requested.id}/approve" not in queue.text
        refused = await client.post(
            f"/console/exceptions/{requested.id}/approve",
            data={"csrf": form_token(queue.text), "note": "ok"},
        )
        assert refused.status_code == 403
        assert "auditor" in refused.text
    stored = await stack.governance.get_exception(identity("admin"), requested.id)
    assert stored.state.value == "requested"


async def test_a_security_user_approves_and_the_admin_event_names_them(
    stack: AdminStack, provider: Provider
) -> None:
    requested = await stack.governance.request_exception(
        identity("owner"),
        rule="secrets.block",
        scope={"app": "shop"},
        justification="vendor migration",
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )
    async with browser(stack, provider) as client:
        await sign_in(client, provider, SECURITY)
        queue = await client.get("/console/exceptions")
        answer = await client.post(
            f"/console/exceptions/{requested.id}/approve",
            data={"csrf": form_token(queue.text), "note": "until Friday", "expires": "2d"},
        )
        assert answer.status_code == 200 and "The exception was approved" in answer.text
    stored = await stack.governance.get_exception(identity("admin"), requested.id)
    assert stored.approver == "sam@example.com"
    events = [e for e in await admin_actions(stack) if e["target"] == requested.id]
    approve = [e for e in events if e["action"] == "exception.approve"]
    assert [(e["actor"], e["role"]) for e in approve] == [("sam@example.com", "security")]


async def test_an_app_owner_sees_only_the_apps_its_claim_names(
    stack: AdminStack, provider: Provider
) -> None:
    governance = stack.governance
    future = datetime.now(UTC) + timedelta(days=3)
    shop = await governance.request_exception(
        identity("owner"), rule="pii.redact", scope={"app": "shop"},
        justification="shop's", expires_at=future,
    )  # fmt: skip
    crm = await governance.request_exception(
        identity("other_owner"), rule="pii.redact", scope={"app": "crm"},
        justification="crm's", expires_at=future,
    )  # fmt: skip
    async with browser(stack, provider) as client:
        await sign_in(client, provider, CAROL)
        queue = await client.get("/console/exceptions")
        assert queue.status_code == 200
        assert "carol@example.com <small>(app_owner)</small>" in queue.text
        assert crm.id in queue.text and shop.id not in queue.text
        form = {"csrf": form_token(queue.text), "rule": "pii.redact", "justification": "x"}
        form["expires_at"] = future.strftime("%Y-%m-%dT%H:%M")
        mine = await client.post("/console/exceptions", data={**form, "app": "crm"})
        assert mine.status_code == 200 and "The exception was requested" in mine.text
        theirs = await client.post("/console/exceptions", data={**form, "app": "shop"})
        assert theirs.status_code == 403
        audit = await client.get("/console/audit")
        assert audit.status_code == 403


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        pytest.param({"nonce": "not-the-one-sent"}, "nonce", id="nonce"),
        pytest.param({"aud": "another-client"}, "audience", id="audience"),
        pytest.param({"iss": "https://evil.example"}, "issuer", id="issuer"),
        pytest.param({"expired": True}, "expired", id="expired"),
        pytest.param({"key": "other"}, "signature", id="signature"),
    ],
)
async def test_an_id_token_that_does_not_verify_opens_no_session(
    stack: AdminStack, provider: Provider, tamper: dict[str, Any], why: str
) -> None:
    if tamper.get("key") == "other":  # same key id, another key: a forged signature
        tamper = {"key": RSAKey.generate_key(2048, parameters={"kid": provider.key.kid})}
    provider.tamper.update(tamper)
    async with browser(stack, provider) as client:
        answer = await sign_in(client, provider, SECURITY)
        assert answer.status_code == 401, why
        assert "could not be verified" in answer.text
        assert session_cookie(client) is None
        assert (await client.get("/console/exceptions")).url.path == "/console/login"


async def test_a_callback_without_the_browsers_state_is_refused_before_the_code_is_used(
    stack: AdminStack, provider: Provider
) -> None:
    async with browser(stack, provider) as client:
        provider.user = dict(SECURITY)
        client.follow_redirects = False
        start = await client.get("/console/oidc/login")
        to_idp = await client.get(start.headers["location"])
        callback = httpx.URL(to_idp.headers["location"])
        code, state = callback.params["code"], callback.params["state"]
    before = provider.token_requests
    async with browser(stack, provider) as other:  # another browser, no state cookie
        answer = await other.get(f"/console/oidc/callback?code={code}&state={state}")
        assert answer.status_code == 401 and "another browser" in answer.text
        assert session_cookie(other) is None
    async with browser(stack, provider) as client:
        await client.get("/console/oidc/login", follow_redirects=False)
        forged = await client.get(f"/console/oidc/callback?code={code}&state=forged-state-value")
        assert forged.status_code == 401 and session_cookie(client) is None
    assert provider.token_requests == before


async def test_a_user_with_no_mapped_group_is_refused_with_a_clear_page(
    stack: AdminStack, provider: Provider
) -> None:
    async with browser(stack, provider) as client:
        answer = await sign_in(client, provider, NOBODY)
        assert answer.status_code == 403
        assert "eve@example.com" in answer.text and "gives you a Bastion role" in answer.text
        assert session_cookie(client) is None


async def test_a_provider_error_shows_the_login_page(stack: AdminStack, provider: Provider) -> None:
    async with browser(stack, provider) as client:
        await client.get("/console/oidc/login", follow_redirects=False)
        answer = await client.get("/console/oidc/callback?error=access_denied&state=x")
        assert answer.status_code == 401
        assert "did not sign you in (access_denied)" in answer.text


async def test_the_oidc_session_opens_no_door_to_the_admin_api(
    stack: AdminStack, provider: Provider
) -> None:
    async with browser(stack, provider) as client:
        await sign_in(client, provider, SECURITY)
        assert session_cookie(client) is not None
        api = await client.get("/admin/api/whoami")
        assert api.status_code == 401


async def test_no_token_or_secret_reaches_the_logs(
    stack: AdminStack, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with browser(stack, provider) as client:
        await sign_in(client, provider, SECURITY)
        provider.tamper["nonce"] = "bad"
        await sign_in(client, provider, SECURITY)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bastion"))
    assert "signed in with OIDC" in text and "OIDC login refused (claims" in text
    assert CLIENT_SECRET not in text and "eyJ" not in text and "code=" not in text


async def test_a_sign_in_too_large_for_a_session_is_refused_clearly(
    stack: AdminStack, provider: Provider
) -> None:
    many = {**CAROL, "apps": [f"app-{n:03d}-" + "x" * 150 for n in range(60)]}
    async with browser(stack, provider) as client:
        answer = await sign_in(client, provider, many)
        assert answer.status_code == 403 and "more apps than" in answer.text
        assert session_cookie(client) is None
