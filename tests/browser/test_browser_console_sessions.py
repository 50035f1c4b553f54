"""The Sessions page in headless Chromium against a real gateway: an admin sees a
security user's session, signs them out and their browser gets the login page on its
next click; "Sign out everyone" does nothing until its box is ticked, then ends every
session, the admin's own included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIMEOUT_MS, VIEWPORT, Console, log_in, watch

pytestmark = pytest.mark.e2e


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    """Another person's browser (its own cookies), watched like ``page``."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []
    watch(opened, problems)
    yield opened
    context.close()
    assert problems == [], problems


def test_an_admin_signs_a_security_user_out(
    page: Page, second_page: Page, console: Console
) -> None:
    log_in(second_page, console, console.admin_token("security", "browser-sec"))
    log_in(page, console)
    page.goto(f"{console.url}/sessions")
    row = page.get_by_role("row").filter(has_text="browser-sec")
    expect(row).to_contain_text("security")
    row.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("Ended 1 console session")
    expect(page.get_by_role("row").filter(has_text="browser-sec")).to_have_count(0)

    second_page.get_by_role("navigation", name="Pages").get_by_role("link", name="Keys").click()
    expect(second_page).to_have_url(f"{console.url}/login")
    expect(second_page.get_by_label("Admin token")).to_be_visible()


def test_sign_out_everyone_asks_first_then_ends_every_session(
    page: Page, second_page: Page, console: Console
) -> None:
    log_in(second_page, console, console.admin_token("security", "browser-sec2"))
    log_in(page, console)
    page.goto(f"{console.url}/sessions")
    page.get_by_role("button", name="Sign out everyone").click()
    expect(page).to_have_url(f"{console.url}/sessions")  # the unticked box stops it
    expect(page.get_by_role("row").filter(has_text="browser-sec2")).to_have_count(1)

    page.get_by_label("Yes, end every session").check()
    page.get_by_role("button", name="Sign out everyone").click()
    expect(page).to_have_url(f"{console.url}/login")
    second_page.reload()
    expect(second_page).to_have_url(f"{console.url}/login")
