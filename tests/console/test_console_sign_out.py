"""``bastion console sign-out`` against a running gateway's console: sessions opened with
admin tokens and with OIDC stop working at once (the console answers as logged out),
every one with --all or one person's with --subject; only the admin role may, and each
sign-out is an admin event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from click.testing import CliRunner, Result
from tests.console.console_client import client, log_in
from tests.console.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, oidc_provider
from tests.console.test_console_pages import admin_actions
from tests.server.admin_stack import AdminStack, admin_stack

from bastion.cli.main import cli

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
    oidc = {
        "issuer": provider.issuer,
        "name": "Test IdP",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "subject_claim": "email",
        "role_map": {"bastion-admins": "admin"},
    }
    server = {"max_body_bytes": 65536, "admin": {"oidc": oidc}}
    async with admin_stack(work, server=server) as running:
        yield running


@pytest.fixture(scope="module")
def config_file(work: Path) -> Path:
    """The operator's config: the gateway's database (its keyring lies beside it)."""
    path = work / "cli.yaml"
    path.write_text(f'storage: {{url: "sqlite:///{work / "gateway.db"}"}}\n', encoding="utf-8")
    return path


async def bastion(config_file: Path, token: str, *args: str) -> Result:
    """``bastion console sign-out ARGS`` as the holder of ``token``, in its own thread
    (the CLI runs its own event loop)."""
    command = ["console", "sign-out", *args, "--config", str(config_file)]
    env = {"BASTION_ADMIN_TOKEN": token}
    return await asyncio.to_thread(CliRunner().invoke, cli, command, env=env)


async def token_session(stack: AdminStack, who: str) -> httpx.AsyncClient:
    browser = client(stack)
    answer = await log_in(browser, stack.tokens[who])
    assert answer.status_code == 303, answer.text
    return browser


async def oidc_session(
    stack: AdminStack, provider: Provider, user: dict[str, Any]
) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.apps.admin),
        mounts={provider.issuer: httpx.AsyncHTTPTransport()},
        base_url="http://admin",
        follow_redirects=True,
        timeout=60,
    )
    provider.user = dict(user)
    answer = await browser.get("/console/oidc/login")
    assert answer.status_code == 200 and f"Signed in as {user['email']}" in answer.text
    browser.follow_redirects = False
    return browser


async def signed_in(browser: httpx.AsyncClient) -> bool:
    """Whether the console shows a page to this browser (not the login form)."""
    page = await browser.get("/console/overview")
    if page.status_code == 303:
        assert page.headers["location"] == "/console/login"
        return False
    assert page.status_code == 200, page.text
    return True


async def test_sign_out_all_ends_every_token_and_oidc_session(
    stack: AdminStack, provider: Provider, config_file: Path
) -> None:
    assert (await bastion(config_file, stack.tokens["admin"], "--all")).exit_code == 0
    browsers = [
        await token_session(stack, "security"),
        await token_session(stack, "auditor"),
        await oidc_session(stack, provider, SAM),
    ]
    try:
        assert [await signed_in(b) for b in browsers] == [True, True, True]

        result = await bastion(config_file, stack.tokens["admin"], "--all")
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
            config_file, stack.tokens["admin"], "--subject", "sam@example.com", "--json"
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"ended": 1, "subject": "sam@example.com"}
        assert [await signed_in(b) for b in (sam, ada, sec, aud)] == [False, True, True, True]

        # an admin token's subject: the sessions opened with its tokens
        result = await bastion(config_file, stack.tokens["admin"], "--subject", "sec")
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
        result = await bastion(config_file, stack.tokens["security"], "--all")
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
    result = await bastion(config_file, stack.tokens["admin"], *args)
    assert result.exit_code == 2 and message in result.output
