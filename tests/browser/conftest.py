"""Browser fixtures: the real simulator and gateway (the quickstart's enterprise policy),
an ``admin`` console token, and Debian's headless Chromium driven by Playwright.

Chromium comes from the system (``/usr/bin/chromium``, installed by scripts/test); no
browser is ever downloaded. Without it the tests are skipped, except with ``CI=true``,
where that is a failure. Every page a test opens counts console errors, uncaught
exceptions and CSP violations, and the test fails if there was any.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.processes import cli_json

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "policies" / "enterprise.yaml"
GOVERNED = """\
detectors:
  custom:
    customer_id: {regex: "CUST-[0-9]{6}", sensitivity: confidential}
policy: {file: %s}
"""
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000


@dataclass
class Console:
    """The running stack, the console's URL and an ``admin`` token to log in with."""

    stack: Stack
    url: str
    token: str
    problems: list[str] = field(default_factory=list)

    def admin_token(self, role: str, subject: str) -> str:
        """Another admin token (``role`` for ``subject``) on the same gateway."""
        created = cli_json(
            "admin-token", "create", "--config", str(self.stack.config),
            "--role", role, "--subject", subject,
        )  # fmt: skip
        return str(created["token"])


def chromium_or_skip() -> Path:
    """Debian's Chromium; skip when missing (fail under CI=true)."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The gateway with the enterprise policy and an admin token for the console."""
    chromium_or_skip()
    with running_stack(tmp_path_factory.mktemp("browser"), GOVERNED % POLICY) as stack:
        created = cli_json(
            "admin-token", "create", "--config", str(stack.config),
            "--role", "admin", "--subject", "browser-admin",
        )  # fmt: skip
        yield Console(stack, f"{stack.admin_url}/console", str(created["token"]))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for this module: Playwright's sync API holds an event loop
    in the main thread while it runs, which async tests after it must not inherit."""
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), args=["--no-sandbox"], headless=True
        )
        yield launched
        launched.close()


def watch(page: Page, problems: list[str]) -> None:
    """Record console errors (CSP violations are reported there) and uncaught errors."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) with one watched page; the test fails when
    the page logged an error or a CSP violation."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []
    watch(opened, problems)
    yield opened
    context.close()
    assert problems == [], problems


def log_in(page: Page, console: Console, token: str | None = None) -> None:
    """Log in to the console on ``page`` with ``token`` (the admin token by default)."""
    page.goto(f"{console.url}/login")
    page.get_by_label("Admin token").fill(token or console.token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
