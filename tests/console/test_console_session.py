"""Console login and sessions: the admin token checked as the API checks it, a signed
HttpOnly SameSite=Strict cookie, logout, CSRF and same-origin checks on every form, and
the security headers on every answer; each session keeps the role it was opened with and
when it was last used (written at most once a minute, not on every page view)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from tests.console.console_client import client, form_token, log_in, logged_in
from tests.server.admin_stack import AdminStack, admin_stack

from bastion.console.security import CSP
from bastion.console.session import SESSION_COOKIE, ConsoleSessions, SessionSigner
from bastion.identity.admin import AdminRole, new_admin_token
from bastion.storage import Database
from bastion.storage.admin_tokens import AdminTokenRepository
from bastion.storage.console_sessions import ConsoleSessionRepository

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AdminStack]:
    async with admin_stack(tmp_path_factory.mktemp("console-session")) as running:
        yield running


def set_cookies(response: object) -> list[str]:
    headers = response.headers  # type: ignore[attr-defined]
    return [value for name, value in headers.multi_items() if name == "set-cookie"]


async def test_login_sets_a_strict_http_only_cookie_and_logout_ends_the_session(
    stack: AdminStack,
) -> None:
    async with client(stack) as browser:
        assert (await browser.get("/console/keys")).headers["location"] == "/console/login"
        answer = await log_in(browser, stack.tokens["security"])
        assert answer.status_code == 303
        (cookie,) = [c for c in set_cookies(answer) if c.startswith(SESSION_COOKIE + "=")]
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/console"} <= flags
        assert "secure" not in flags  # plain http here; https below
        assert stack.tokens["security"] not in cookie

        home = await browser.get("/console/")
        assert home.status_code == 303 and home.headers["location"] == "/console/overview"
        page = await browser.get("/console/overview")
        assert page.status_code == 200 and "sec" in page.text and "(security)" in page.text

        out = await browser.post("/console/logout", data={"csrf": form_token(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        browser.cookies.clear()
        browser.cookies.set(SESSION_COOKIE, cookie.split(";")[0].partition("=")[2])
        again = await browser.get("/console/overview")  # the old cookie replayed
        assert again.status_code == 303 and again.headers["location"] == "/console/login"


async def test_cookies_are_secure_over_https(stack: AdminStack) -> None:
    async with client(stack, "https://admin") as browser:
        answer = await log_in(browser, stack.tokens["auditor"])
        assert answer.status_code == 303
        assert all("secure" in c.lower() for c in set_cookies(answer) if "Max-Age=0" not in c)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("bat_nothere_000000000000000000000000000000", id="unknown admin token"),
        pytest.param("not a token", id="malformed"),
        pytest.param("", id="empty"),
    ],
)
async def test_a_bad_token_shows_the_form_again(stack: AdminStack, token: str) -> None:
    async with client(stack) as browser:
        answer = await log_in(browser, token)
        assert answer.status_code == 401
        assert "not valid" in answer.text and 'name="token"' in answer.text
        assert not [c for c in set_cookies(answer) if c.startswith(SESSION_COOKIE + "=")]


async def test_a_gateway_key_logs_in_to_the_chat_alone(stack: AdminStack) -> None:
    async with client(stack) as browser:
        answer = await log_in(browser, stack.keys["shop"][1])
        assert answer.status_code == 303 and answer.headers["location"] == "/console/chat"
        assert (await browser.get("/console/keys")).status_code == 403
        api = await browser.get(
            "/admin/api/keys",
            headers={"cookie": f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}"},
        )
        assert api.status_code == 401  # no door to the admin API either


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("wrong secret", id="wrong secret"),
        pytest.param("unknown", id="unknown key"),
    ],
)
async def test_a_bad_gateway_key_shows_the_form_again(stack: AdminStack, key: str) -> None:
    key_id, plaintext = stack.keys["shop"]
    presented = (
        plaintext[:-4] + ("0000" if not plaintext.endswith("0000") else "1111")
        if key == "wrong secret"
        else plaintext.replace(key_id, "nothere0")
    )
    async with client(stack) as browser:
        answer = await log_in(browser, presented)
        assert answer.status_code == 401 and "not valid" in answer.text
        assert not [c for c in set_cookies(answer) if c.startswith(SESSION_COOKIE + "=")]


async def test_a_gateway_key_login_from_another_site_is_refused(stack: AdminStack) -> None:
    async with client(stack) as browser:
        form = await browser.get("/console/login")
        answer = await browser.post(
            "/console/login",
            data={"csrf": form_token(form.text), "token": stack.keys["shop"][1]},
            headers={"origin": "https://evil.example"},
        )
        assert answer.status_code == 403
        assert not [c for c in set_cookies(answer) if c.startswith(SESSION_COOKIE + "=")]


async def test_login_without_the_forms_token_is_refused(stack: AdminStack) -> None:
    async with client(stack) as browser:
        answer = await browser.post("/console/login", data={"token": stack.tokens["admin"]})
        assert answer.status_code == 401 and "expired" in answer.text
        assert not [c for c in set_cookies(answer) if c.startswith(SESSION_COOKIE + "=")]


async def test_a_revoked_token_ends_its_sessions(stack: AdminStack) -> None:
    repo = AdminTokenRepository(stack.apps.runtime.database)
    record, plaintext = new_admin_token("temp", AdminRole.ADMIN)
    await repo.create(record)
    async with client(stack) as browser:
        assert (await log_in(browser, plaintext)).status_code == 303
        assert (await browser.get("/console/keys")).status_code == 200
        await repo.revoke(record.token_id, record.created_at.now(record.created_at.tzinfo))
        assert (await browser.get("/console/keys")).headers["location"] == "/console/login"


async def test_a_form_without_its_csrf_token_changes_nothing(stack: AdminStack) -> None:
    async with logged_in(stack, "admin") as browser:
        before = len((await stack.api("admin", "GET", "/keys")).json()["data"])
        for data in ({"name": "sneaky"}, {"name": "sneaky", "csrf": "forged"}):
            refused = await browser.post("/console/keys", data=data)
            assert refused.status_code == 403 and "security token" in refused.text
        async with logged_in(stack, "security") as other:
            theirs = form_token((await other.get("/console/keys")).text)
        refused = await browser.post("/console/keys", data={"name": "sneaky", "csrf": theirs})
        assert refused.status_code == 403
        after = len((await stack.api("admin", "GET", "/keys")).json()["data"])
        assert after == before


async def test_a_form_from_another_site_is_refused(stack: AdminStack) -> None:
    async with logged_in(stack, "admin") as browser:
        token = form_token((await browser.get("/console/keys")).text)
        refused = await browser.post(
            "/console/keys",
            data={"name": "cross", "csrf": token},
            headers={"origin": "https://evil.example"},
        )
        assert refused.status_code == 403
        same = await browser.post(
            "/console/keys",
            data={"name": "same", "csrf": token},
            headers={"origin": "http://admin"},
        )
        assert same.status_code == 201


@pytest.mark.parametrize(
    "path", ["/console/login", "/console/overview", "/console/nowhere", "/console/keys"]
)
async def test_every_answer_has_strict_security_headers(stack: AdminStack, path: str) -> None:
    async with logged_in(stack, "admin") as browser:
        answer = await browser.get(path)
        if path == "/console/nowhere":
            assert answer.status_code == 404 and "no such console page" in answer.text
        headers = answer.headers
        assert headers["content-security-policy"] == CSP
        assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert "unsafe-inline" not in CSP
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"


async def test_pages_carry_no_inline_script_or_style(stack: AdminStack) -> None:
    async with logged_in(stack, "admin") as browser:
        for page in ("overview", "audit", "policy", "keys", "budgets", "exceptions"):
            html = (await browser.get(f"/console/{page}")).text.lower()
            assert "<script" not in html and "style=" not in html and "<style" not in html
            assert " on" + "click=" not in html
        css = await browser.get("/console/static/console.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_the_console_session_opens_no_door_to_the_admin_api(stack: AdminStack) -> None:
    async with logged_in(stack, "admin") as browser:
        assert (await browser.get("/console/keys")).status_code == 200
        session = browser.cookies.get(SESSION_COOKIE)
        assert session
        api = await browser.get(
            "/admin/api/keys", headers={"cookie": f"{SESSION_COOKIE}={session}"}
        )
        assert api.status_code == 401
        assert (await browser.get("/metrics")).status_code == 401


async def test_a_session_keeps_its_role_and_when_it_was_last_used_once_a_minute(
    sqlite_url: str,
) -> None:
    database = Database.from_url(sqlite_url)
    await database.migrate()
    try:
        repository = ConsoleSessionRepository(database)
        sessions = ConsoleSessions(SessionSigner(b"k" * 32), repository)
        opened = float(int(time.time()))

        async def last_seen() -> datetime | None:
            (row,) = await repository.list_open(datetime.fromtimestamp(opened, UTC))
            assert row.role == "security"
            return row.last_seen_at

        session, cookie = await sessions.open("tok12345", "tok12345", role="security", now=opened)
        assert await last_seen() == datetime.fromtimestamp(opened, UTC)  # logging in is a use
        for later in (1, 30, 59):
            assert await sessions.read(cookie, now=opened + later) == session
        assert await last_seen() == datetime.fromtimestamp(opened, UTC)
        assert await sessions.read(cookie, now=opened + 61) == session
        assert await last_seen() == datetime.fromtimestamp(opened + 61, UTC)

        await sessions.close(session)
        assert await sessions.read(cookie, now=opened + 200) is None
    finally:
        await database.close()
