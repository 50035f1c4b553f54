"""OIDC login in headless Chromium against a real gateway and a provider on a loopback
port: "Sign in with …" on the login page, the provider's redirects, and a console
session as the mapped role — the SameSite=Strict session cookie set on the way back from
the provider's site must reach the next page (the callback answers with a page, not a
redirect). The replay and exception-expiry forms are walked too."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import GOVERNED, POLICY, Console, chromium_or_skip, watch
from tests.console.oidc_provider import (
    Provider,
    oidc_provider_thread,
    oidc_settings,
)
from tests.e2e.conftest import running_stack
from tests.e2e.processes import cli_json

pytestmark = pytest.mark.e2e

SAM = {"sub": "u-1", "email": "sam@example.com", "groups": ["bastion-security"]}
EVE = {"sub": "u-9", "email": "eve@example.com", "groups": ["staff"]}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    chromium_or_skip()
    with oidc_provider_thread() as running:
        yield running


@pytest.fixture(scope="module")
def oidc_console(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    oidc = oidc_settings(provider, {"bastion-security": "security"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BASTION_SERVER__ADMIN__OIDC", json.dumps(oidc))
        with running_stack(tmp_path_factory.mktemp("oidc"), GOVERNED % POLICY) as stack:
            created = cli_json(
                "admin-token", "create", "--config", str(stack.config),
                "--role", "admin", "--subject", "browser-admin",
            )  # fmt: skip
            yield Console(stack, f"{stack.admin_url}/console", str(created["token"]))


def test_sign_in_with_the_provider_and_use_the_console(
    page: Page, oidc_console: Console, provider: Provider
) -> None:
    provider.user = dict(SAM)
    stack = oidc_console.stack
    stack.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Write to ann@example.com."}]
    )
    page.goto(f"{oidc_console.url}/login")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("form.who")).to_contain_text("sam@example.com (security)")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Policy").click()
    replay = page.locator("#replay form").first  # replay a stored version (the active one)
    replay.get_by_label("Window").select_option("24h")
    replay.get_by_role("button", name="Replay", exact=True).click()
    expect(page.locator("#replay .result")).to_contain_text("replayed")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login")


def test_an_unmapped_user_sees_why(
    browser: Browser, oidc_console: Console, provider: Provider
) -> None:
    provider.user = dict(EVE)
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"{oidc_console.url}/login")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.get_by_role("alert")).to_contain_text("gives you a Bastion role")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    context.close()
    # the refusal answers 403, which the browser reports; nothing else
    assert [p for p in problems if "status of 403" not in p] == []
