"""The console's Sessions page: admins and security see who is signed in (who, how, role,
opened, last seen, ends), as ``bastion console sessions`` lists it; admins sign one
person or, after confirming, everyone out, and those browsers get the login page; each
sign-out is the same ``console.sign_out`` admin event as the CLI's and the API's. Other
roles neither see the page nor can post its forms, and no form works without its CSRF
token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from tests.console.console_client import (
    client,
    form_token,
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

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGE = "/console/sessions"
SIGN_OUT = PAGE + "/sign-out"
SIGN_OUT_EVERYONE = PAGE + "/sign-out-everyone"
SAM = {"sub": "u-1", "email": "sam@example.com", "groups": ["bastion-security"]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def provider() -> AsyncIterator[Provider]:
    async with oidc_provider() as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AdminStack]:
    roles = {"bastion-admins": "admin", "bastion-security": "security"}
    work: Path = tmp_path_factory.mktemp("console-sessions-page")
    async with oidc_stack(work, provider, roles) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def nobody_signed_in(stack: AdminStack) -> None:
    """Each test starts with no console session open."""
    await sign_out_everyone(stack)


def rows(html: str) -> list[list[str]]:
    """The session table's rows as the text of their cells (the empty row: none)."""
    body = html.partition('<table class="sessions">')[2].partition("</table>")[0]
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.partition("<tbody>")[2], re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        found.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return found


def sign_out_buttons(html: str) -> list[str]:
    """The subjects the page offers a Sign out button for."""
    return re.findall(r'name="subject" value="([^"]*)"><button', html)


async def sessions_page(browser: httpx.AsyncClient, **params: str) -> httpx.Response:
    page = await browser.get(PAGE, params=params)
    assert page.status_code == 200, page.text
    return page


async def close(*browsers: httpx.AsyncClient) -> None:
    for browser in browsers:
        await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_admin_sees_another_tokens_session_and_signs_that_subject_out(
    stack: AdminStack,
) -> None:
    sec, admin = await token_session(stack, "security"), await token_session(stack, "admin")
    try:
        page = await sessions_page(admin)
        listed = rows(page.text)
        sec_id, root_id = await token_id(stack, "sec"), await token_id(stack, "root")
        assert [row[:3] for row in listed] == [
            ["sec", f"admin token {sec_id}", "security"],
            ["root (you)", f"admin token {root_id}", "admin"],
        ]
        for row in listed:  # opened, last seen, ends: UTC times
            assert all(cell.endswith(" UTC") for cell in row[3:6]), row
        assert sign_out_buttons(page.text) == ["sec", "root"]

        before = len(await admin_actions(stack))
        answer = await admin.post(SIGN_OUT, data={"csrf": form_token(page.text), "subject": "sec"})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{PAGE}?notice=signed_out&ended=1"
        after = await admin.get(answer.headers["location"])
        assert "Ended 1 console session;" in after.text
        assert [row[0] for row in rows(after.text)] == ["root (you)"]

        assert not await signed_in(sec)  # that browser gets the login page
        assert (await sec.get(PAGE)).headers["location"] == "/console/login"
        assert await signed_in(admin)
    finally:
        await close(sec, admin)
    events = await admin_actions(stack)
    assert len(events) == before + 1
    event = events[-1]
    assert (event["action"], event["target"], event["actor"], event["role"]) == (
        "console.sign_out",
        "sec",
        "root",
        "admin",
    )
    assert event["details"] == {"ended": 1}


@pytest.mark.usefixtures("nobody_signed_in")
async def test_oidc_and_gateway_key_sessions_are_listed_and_an_oidc_user_signed_out(
    stack: AdminStack, provider: Provider
) -> None:
    sam = await oidc_session(stack, provider, SAM)
    employee = client(stack)
    shop_id = stack.keys["shop"][0]
    assert (await log_in(employee, stack.keys["shop"][1])).status_code == 303
    admin = await token_session(stack, "admin")
    try:
        page = await sessions_page(admin)
        assert [row[:3] for row in rows(page.text)][:2] == [
            ["sam@example.com", "OIDC", "security"],
            [shop_id, "gateway key", "chat only"],
        ]
        answer = await admin.post(
            SIGN_OUT, data={"csrf": form_token(page.text), "subject": "sam@example.com"}
        )
        assert answer.status_code == 303
        assert not await signed_in(sam)
        assert [row[0] for row in rows((await sessions_page(admin)).text)] == [
            shop_id,
            "root (you)",
        ]
    finally:
        await close(sam, employee, admin)


@pytest.mark.usefixtures("nobody_signed_in")
async def test_the_subject_filter_shows_one_persons_sessions(
    stack: AdminStack, provider: Provider
) -> None:
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "security"),
        await oidc_session(stack, provider, SAM),
    ]
    try:
        page = await sessions_page(browsers[0], subject="sec")
        assert [row[0] for row in rows(page.text)] == ["sec (you)", "sec (you)"]
        assert 'name="subject" value="sec"' in page.text  # the filter keeps its value
        by_id = await sessions_page(browsers[0], subject=await token_id(stack, "sec"))
        assert len(rows(by_id.text)) == 2
        nobody = await sessions_page(browsers[0], subject="nobody")
        assert rows(nobody.text) == [["No open session of nobody."]]
        everyone = await sessions_page(browsers[0], subject="")
        assert len(rows(everyone.text)) == 3
        too_long = await browsers[0].get(PAGE, params={"subject": "s" * 201})
        assert too_long.status_code == 400
    finally:
        await close(*browsers)


@pytest.mark.usefixtures("nobody_signed_in")
async def test_security_sees_the_list_but_cannot_sign_anyone_out(stack: AdminStack) -> None:
    admin, sec = await token_session(stack, "admin"), await token_session(stack, "security")
    try:
        page = await sessions_page(sec)
        assert [row[0] for row in rows(page.text)] == ["root", "sec (you)"]
        assert sign_out_buttons(page.text) == []
        assert "Sign out everyone" not in page.text and "sign-out" not in page.text
        nav = page.text.partition('<nav aria-label="Pages">')[2].partition("</nav>")[0]
        assert f'href="{PAGE}"' in nav

        before = len(await admin_actions(stack))
        csrf = form_token(page.text)
        forged = [
            await sec.post(SIGN_OUT, data={"csrf": csrf, "subject": "root"}),
            await sec.post(SIGN_OUT_EVERYONE, data={"csrf": csrf, "confirm": "yes"}),
        ]
        assert [answer.status_code for answer in forged] == [403, 403]
        assert all("console.sign_out" in answer.text for answer in forged)
        assert [await signed_in(b) for b in (admin, sec)] == [True, True]
        assert len(await admin_actions(stack)) == before
    finally:
        await close(admin, sec)


@pytest.mark.parametrize("who", ["auditor", "owner"])
async def test_other_roles_get_no_page_no_link_and_no_sign_out(stack: AdminStack, who: str) -> None:
    admin, browser = await token_session(stack, "admin"), await token_session(stack, who)
    try:
        refused = await browser.get(PAGE)
        assert refused.status_code == 403
        assert "not open to the role" in refused.text
        assert "root" not in refused.text.partition("<main>")[2]  # no session listed
        nav = refused.text.partition('<nav aria-label="Pages">')[2].partition("</nav>")[0]
        assert f'href="{PAGE}"' not in nav and 'href="/console/' in nav

        before = len(await admin_actions(stack))
        forged = await browser.post(
            SIGN_OUT, data={"csrf": form_token(refused.text), "subject": "root"}
        )
        assert forged.status_code == 403
        assert await signed_in(admin)
        assert len(await admin_actions(stack)) == before
    finally:
        await close(admin, browser)


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        pytest.param(SIGN_OUT, {"subject": "sec"}, id="sign-out"),
        pytest.param(SIGN_OUT_EVERYONE, {"confirm": "yes"}, id="sign-out-everyone"),
    ],
)
@pytest.mark.parametrize("csrf", [None, "forged"], ids=["no-csrf", "wrong-csrf"])
async def test_a_post_without_the_sessions_csrf_token_is_refused(
    stack: AdminStack, action: str, fields: dict[str, str], csrf: str | None
) -> None:
    admin, sec = await token_session(stack, "admin"), await token_session(stack, "security")
    try:
        before = len(await admin_actions(stack))
        data = fields if csrf is None else {"csrf": csrf, **fields}
        answer = await admin.post(action, data=data)
        assert answer.status_code == 403
        assert "security token did not match" in answer.text
        assert [await signed_in(b) for b in (admin, sec)] == [True, True]
        assert len(await admin_actions(stack)) == before
    finally:
        await close(admin, sec)


@pytest.mark.usefixtures("nobody_signed_in")
async def test_sign_out_everyone_needs_confirming_then_ends_every_session_the_admins_too(
    stack: AdminStack, provider: Provider
) -> None:
    others = [await token_session(stack, "security"), await oidc_session(stack, provider, SAM)]
    admin = await token_session(stack, "admin")
    try:
        page = await sessions_page(admin)
        assert "Sign out everyone" in page.text
        csrf = form_token(page.text)
        before = len(await admin_actions(stack))

        unconfirmed = await admin.post(SIGN_OUT_EVERYONE, data={"csrf": csrf})
        assert unconfirmed.status_code == 400
        assert "tick the box" in unconfirmed.text
        assert [await signed_in(b) for b in (*others, admin)] == [True, True, True]
        assert len(await admin_actions(stack)) == before

        answer = await admin.post(SIGN_OUT_EVERYONE, data={"csrf": csrf, "confirm": "yes"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"
        assert SESSION_COOKIE not in admin.cookies  # the admin's own cookie is cleared
        assert (await admin.get("/console/login")).status_code == 200
        assert [await signed_in(b) for b in others] == [False, False]
    finally:
        await close(*others, admin)
    event = (await admin_actions(stack))[-1]
    assert (event["action"], event["target"], event["actor"]) == ("console.sign_out", "*", "root")
    assert event["details"] == {"ended": 3}


@pytest.mark.usefixtures("nobody_signed_in")
async def test_an_admin_who_signs_themselves_out_lands_on_the_login_page(
    stack: AdminStack,
) -> None:
    admin, elsewhere = await token_session(stack, "admin"), await token_session(stack, "admin")
    sec = await token_session(stack, "security")
    try:
        page = await sessions_page(admin)
        answer = await admin.post(SIGN_OUT, data={"csrf": form_token(page.text), "subject": "root"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"
        assert SESSION_COOKIE not in admin.cookies
        assert [await signed_in(b) for b in (elsewhere, sec)] == [False, True]
    finally:
        await close(admin, elsewhere, sec)
    event: dict[str, Any] = (await admin_actions(stack))[-1]
    assert (event["target"], event["details"]) == ("root", {"ended": 2})


async def test_a_sign_out_form_without_a_subject_is_refused(stack: AdminStack) -> None:
    admin = await token_session(stack, "admin")
    try:
        page = await sessions_page(admin)
        before = len(await admin_actions(stack))
        for subject in ("", "   ", "s" * 201):
            answer = await admin.post(
                SIGN_OUT, data={"csrf": form_token(page.text), "subject": subject}
            )
            assert answer.status_code == 400, subject
        assert len(await admin_actions(stack)) == before
    finally:
        await close(admin)
