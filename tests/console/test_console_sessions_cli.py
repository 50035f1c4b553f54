"""``bastion console sessions`` and ``sign-out`` against a running gateway's console.

``sign-out``: sessions opened with admin tokens and with OIDC stop working at once (the
console answers as logged out), every one with --all or one person's with --subject;
only the admin role may, and each sign-out is an admin event.

``sessions``: the sessions open now (admin token, OIDC and gateway key), who holds them,
with what role they were opened and when they were last used; not the ones that
expired, were logged out, signed out or whose token was revoked; ``--subject`` narrows
as ``sign-out --subject`` does; nothing printed opens a session (no cookie, no session
id, not its hash); only the admin and security roles may list."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from click.testing import CliRunner, Result
from tests.console.console_client import (
    client,
    form_token,
    log_in,
    oidc_session,
    oidc_stack,
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

from bastion.cli.main import cli
from bastion.console.session import SESSION_COOKIE
from bastion.storage.admin_tokens import AdminTokenRepository
from bastion.storage.console_sessions import ConsoleSessionRepository, StoredConsoleSession

pytestmark = pytest.mark.asyncio(loop_scope="module")

SAM = {"sub": "u-1", "email": "sam@example.com", "groups": ["bastion-admins"]}
ADA = {"sub": "u-2", "email": "ada@example.com", "groups": ["bastion-admins"]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def provider() -> AsyncIterator[Provider]:
    async with oidc_provider() as running:
        yield running


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-sign-out")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(provider: Provider, work: Path) -> AsyncIterator[AdminStack]:
    async with oidc_stack(work, provider, {"bastion-admins": "admin"}) as running:
        yield running


@pytest.fixture(scope="module")
def config_file(work: Path) -> Path:
    """The operator's config: the gateway's database (its keyring lies beside it)."""
    path = work / "cli.yaml"
    path.write_text(f'storage: {{url: "sqlite:///{work / "gateway.db"}"}}\n', encoding="utf-8")
    return path


async def bastion(config_file: Path, token: str, command: str, *args: str) -> Result:
    """``bastion console COMMAND ARGS`` as the holder of ``token``, in its own thread
    (the CLI runs its own event loop)."""
    argv = ["console", command, *args, "--config", str(config_file)]
    return await asyncio.to_thread(
        CliRunner().invoke, cli, argv, env={"BASTION_ADMIN_TOKEN": token}
    )


async def test_sign_out_all_ends_every_token_and_oidc_session(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    assert (await bastion(config_file, stack.tokens["admin"], "sign-out", "--all")).exit_code == 0
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "auditor"),
        await oidc_session(stack, provider, SAM),
    ]
    try:
        assert [await signed_in(b) for b in browsers] == [True, True, True]

        result = await bastion(config_file, stack.tokens["admin"], "sign-out", "--all")
        assert result.exit_code == 0, result.output
        assert result.output == "Ended 3 console sessions.\n"
        assert [await signed_in(b) for b in browsers] == [False, False, False]
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


async def test_sign_out_of_one_subject_leaves_the_others_signed_in(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    sam, ada = await oidc_session(stack, provider, SAM), await oidc_session(stack, provider, ADA)
    sec, aud = await token_session(stack, "security"), await token_session(stack, "auditor")
    try:
        result = await bastion(
            config_file, stack.tokens["admin"], "sign-out", "--subject", "sam@example.com", "--json"
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"ended": 1, "subject": "sam@example.com"}
        assert [await signed_in(b) for b in (sam, ada, sec, aud)] == [False, True, True, True]

        # an admin token's subject: the sessions opened with its tokens
        result = await bastion(config_file, stack.tokens["admin"], "sign-out", "--subject", "sec")
        assert result.output == "Ended 1 console session of 'sec'.\n"
        assert [await signed_in(b) for b in (ada, sec, aud)] == [True, False, True]
    finally:
        for browser in (sam, ada, sec, aud):
            await browser.aclose()
    assert (await admin_actions(stack))[-1]["target"] == "sec"


async def test_only_the_admin_role_may_sign_sessions_out(
    stack: AdminStack, config_file: Path
) -> None:
    browser = await token_session(stack, "auditor")
    try:
        before = len(await admin_actions(stack))
        result = await bastion(config_file, stack.tokens["security"], "sign-out", "--all")
        assert result.exit_code == 1
        assert "may not sign out console sessions; that needs admin" in result.output
        assert await signed_in(browser)
        assert len(await admin_actions(stack)) == before
    finally:
        await browser.aclose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "give --all (every session) or --subject NAME", id="neither"),
        pytest.param(["--all", "--subject", "sam"], "not both", id="both"),
        pytest.param(["--subject", " "], "is empty", id="empty"),
        pytest.param(["--subject", "s" * 201], "at most 200 characters", id="long"),
    ],
)
async def test_sign_out_needs_all_or_one_subject(
    stack: AdminStack, config_file: Path, args: list[str], message: str
) -> None:
    result = await bastion(config_file, stack.tokens["admin"], "sign-out", *args)
    assert result.exit_code == 2 and message in result.output


async def listed(stack: AdminStack, config_file: Path, *args: str) -> list[dict[str, Any]]:
    result = await bastion(config_file, stack.tokens["admin"], "sessions", "--json", *args)
    assert result.exit_code == 0, result.output
    sessions: list[dict[str, Any]] = json.loads(result.stdout)
    return sessions


@pytest_asyncio.fixture(loop_scope="module")
async def nobody_signed_in(stack: AdminStack, config_file: Path) -> None:
    """Each test starts with no console session open."""
    assert (await bastion(config_file, stack.tokens["admin"], "sign-out", "--all")).exit_code == 0


@pytest.mark.usefixtures("nobody_signed_in")
async def test_open_sessions_are_listed_with_who_how_role_and_last_seen(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    sec = await token_session(stack, "security")
    sam = await oidc_session(stack, provider, SAM)
    employee = client(stack)
    shop_id = stack.keys["shop"][0]
    assert (await log_in(employee, stack.keys["shop"][1])).status_code == 303
    browsers = (sec, sam, employee)
    try:
        sessions = await listed(stack, config_file)
        who = {(s["subject"], s["opened_with"], s["id"], s["role"]) for s in sessions}
        assert who == {
            ("sec", "admin_token", await token_id(stack, "sec"), "security"),
            ("sam@example.com", "oidc", None, "admin"),  # mapped from its groups at sign-in
            (shop_id, "gateway_key", shop_id, None),
        }
        for session in sessions:
            opened = datetime.fromisoformat(session["opened_at"])
            assert before <= opened <= datetime.now(UTC)
            assert datetime.fromisoformat(session["last_seen_at"]) >= opened
            assert datetime.fromisoformat(session["expires_at"]) - opened == timedelta(hours=8)

        table = await bastion(config_file, stack.tokens["security"], "sessions")
        assert table.exit_code == 0, table.output
        lines = table.output.splitlines()
        assert lines[0].split() == [
            "SUBJECT",
            "OPENED",
            "WITH",
            "ROLE",
            "OPENED",
            "LAST",
            "SEEN",
            "EXPIRES",
        ]
        rows = {line.split()[0]: line for line in lines[1:]}
        assert set(rows) == {"sec", "sam@example.com", shop_id}
        assert f"admin token {await token_id(stack, 'sec')}  security" in rows["sec"]
        assert "OIDC" in rows["sam@example.com"] and " admin " in rows["sam@example.com"]
        assert "gateway key" in rows[shop_id] and "chat only" in rows[shop_id]
        for row in rows.values():  # opened, last seen, expires: three UTC times
            assert len([cell for cell in row.split() if cell.endswith("+00:00")]) == 3
    finally:
        for browser in browsers:
            await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_a_session_opened_before_roles_were_stored_shows_none(
    stack: AdminStack, config_file: Path
) -> None:
    now = datetime.now(UTC)
    await ConsoleSessionRepository(stack.apps.runtime.database).open(
        StoredConsoleSession("b" * 64, "oidc", "kim@example.com", now, now + timedelta(hours=8))
    )
    (session,) = await listed(stack, config_file)
    assert (session["subject"], session["role"], session["last_seen_at"]) == (
        "kim@example.com",
        None,
        None,
    )
    table = await bastion(config_file, stack.tokens["admin"], "sessions")
    (row,) = table.output.splitlines()[1:]
    assert "not recorded" in row and " - " in row


@pytest.mark.usefixtures("nobody_signed_in")
async def test_nothing_printed_would_open_a_session(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "admin"),
        await oidc_session(stack, provider, ADA),
    ]
    try:
        cookies = [b.cookies[SESSION_COOKIE] for b in browsers]
        now = datetime.now(UTC)
        rows = await ConsoleSessionRepository(stack.apps.runtime.database).list_open(now)
        assert len(rows) == 3
        secrets = [
            *cookies,
            *(cookie.split(".")[1] for cookie in cookies),  # the session ids
            *(cookie.rpartition(".")[2] for cookie in cookies),  # their signatures
            *(row.id_hash for row in rows),
            *(row.id_hash[:8] for row in rows),
        ]
        for args in ([], ["--json"]):
            result = await bastion(config_file, stack.tokens["admin"], "sessions", *args)
            assert result.exit_code == 0, result.output
            assert "ada@example.com" in result.output
            assert [s for s in secrets if s in result.output] == []
    finally:
        for browser in browsers:
            await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_expired_logged_out_signed_out_and_revoked_sessions_are_not_listed(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    database = stack.apps.runtime.database
    auditor_id, sec2_id = await token_id(stack, "aud"), await token_id(stack, "sec2")
    logged_out = await token_session(stack, "auditor")
    revoked = await token_session(stack, "security2")
    ada = await oidc_session(stack, provider, ADA)
    sam = await oidc_session(stack, provider, SAM)
    now = datetime.now(UTC)
    await ConsoleSessionRepository(database).open(  # ended an hour ago, its row still there
        StoredConsoleSession(
            "a" * 64, "admin", auditor_id, now - timedelta(hours=9), now - timedelta(hours=1)
        )
    )
    try:
        subjects = sorted(s["subject"] for s in await listed(stack, config_file))
        assert subjects == ["ada@example.com", "aud", "sam@example.com", "sec2"]  # aud: once

        page = await logged_out.get("/console/overview")
        out = await logged_out.post("/console/logout", data={"csrf": form_token(page.text)})
        assert out.status_code == 303
        await AdminTokenRepository(database).revoke(sec2_id, datetime.now(UTC))
        result = await bastion(
            config_file, stack.tokens["admin"], "sign-out", "--subject", "ada@example.com"
        )
        assert result.exit_code == 0, result.output

        assert [s["subject"] for s in await listed(stack, config_file)] == ["sam@example.com"]
        assert [await signed_in(b) for b in (revoked, ada, sam)] == [False, False, True]
    finally:
        for browser in (logged_out, revoked, ada, sam):
            await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_subject_narrows_the_list_as_sign_out_does(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "security"),
        await token_session(stack, "auditor"),
        await oidc_session(stack, provider, SAM),
    ]
    try:
        assert len(await listed(stack, config_file)) == 4
        mine = await listed(stack, config_file, "--subject", "sec")
        assert [(s["subject"], s["role"]) for s in mine] == [("sec", "security")] * 2
        by_token = await listed(stack, config_file, "--subject", await token_id(stack, "aud"))
        assert [s["subject"] for s in by_token] == ["aud"]
        oidc = await listed(stack, config_file, "--subject", " sam@example.com ")
        assert [s["subject"] for s in oidc] == ["sam@example.com"]

        result = await bastion(config_file, stack.tokens["admin"], "sessions", "--subject", "x")
        assert result.exit_code == 0 and result.output == "No console sessions of 'x' are open.\n"
        result = await bastion(config_file, stack.tokens["admin"], "sessions", "--subject", "")
        assert result.exit_code == 2 and "is empty" in result.output
    finally:
        for browser in browsers:
            await browser.aclose()


@pytest.mark.usefixtures("nobody_signed_in")
async def test_no_session_open_says_so(stack: AdminStack, config_file: Path) -> None:
    result = await bastion(config_file, stack.tokens["admin"], "sessions")
    assert result.exit_code == 0 and result.output == "No console sessions are open.\n"
    assert await listed(stack, config_file) == []


@pytest.mark.usefixtures("nobody_signed_in")
async def test_an_oidc_subject_cannot_write_to_the_terminal(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.apps.admin),
        mounts={provider.issuer: httpx.AsyncHTTPTransport()},
        base_url="http://admin",
        follow_redirects=True,
        timeout=60,
    )
    provider.user = {**SAM, "email": "eve\x1b[2J\u202e@example.com"}
    try:
        assert (await browser.get("/console/oidc/login")).status_code == 200
        result = await bastion(config_file, stack.tokens["admin"], "sessions")
        assert result.exit_code == 0, result.output
        assert "eve?[2J?@example.com" in result.output
        assert "\x1b" not in result.output and "\u202e" not in result.output
    finally:
        await browser.aclose()


@pytest.mark.parametrize("who", ["auditor", "owner"])
async def test_only_admin_and_security_may_list(
    stack: AdminStack, config_file: Path, who: str
) -> None:
    result = await bastion(config_file, stack.tokens[who], "sessions")
    assert result.exit_code == 1
    assert "may not list console sessions; that needs admin or security" in result.output
