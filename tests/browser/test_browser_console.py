"""The console in headless Chromium against a real gateway (enterprise policy): log in,
walk every page, approve an exception, simulate a policy decision, and chat through the
gateway — the redaction notice names the planted class and the upstream only ever saw
a placeholder. Every page must render without a console error or CSP violation."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bastion.console.app import PAGES
from tests.browser.conftest import Console, log_in, watch
from tests.e2e.processes import BASTION

pytestmark = pytest.mark.e2e

EMAIL = "dana.whitfield@northwind-example.com"
SECRET = "AKIA" + "Q3EGRTZ5LXKW7NUC"  # an AWS access key id shape, not a vendor dummy
PLACEHOLDER = re.compile(r"<[A-Z_]+_[0-9a-f]{8,}>")
CONTENT = {
    # page: text each page shows besides its heading
    "overview": "Calls by environment",
    "audit": "Chain verification",
    "policy": "Simulator",
    "keys": "Create a key",
    "budgets": "Budgets",
    "exceptions": "Request an exception",
    "sessions": "Who is signed in",
    "chat": "Your gateway key",
}


def test_every_page_is_listed_here() -> None:
    assert set(CONTENT) == {page.name for page in PAGES}


def test_log_in_and_walk_every_page(page: Page, console: Console) -> None:
    console.stack.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Write to {EMAIL}."}]
    )
    log_in(page, console)
    nav = page.get_by_role("navigation", name="Pages")
    for shown in PAGES:
        nav.get_by_role("link", name=shown.title, exact=True).click()
        page.wait_for_url(f"**{shown.url}")
        expect(page.get_by_role("heading", level=1)).to_have_text(shown.title)
        expect(page.locator("main")).to_contain_text(CONTENT[shown.name])
        expect(nav.locator('[aria-current="page"]')).to_have_text(shown.title)
        if shown.name == "audit":  # and one call's record, with its decision trace
            page.get_by_role("row").filter(has_text="pii.email").get_by_role("link").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Call req_")
            expect(page.locator("main")).to_contain_text("pii.external")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login")


def test_a_csp_violation_would_fail_a_test(browser: Browser, console: Console) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"{console.url}/login")
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            "document.body.insertAdjacentHTML('beforeend', "
            "'<img src=\"https://example.invalid/x.png\">')"
        )
    context.close()
    assert any("Content Security Policy" in problem for problem in problems), problems


def test_a_wrong_token_is_refused(browser: Browser, console: Console) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"{console.url}/login")
    page.get_by_label("Admin token").fill("bat_nope_nope")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    context.close()
    # the refused login answers 401, which the browser reports; nothing else
    assert [p for p in problems if "status of 401" not in p] == []


def test_approve_an_exception_in_the_queue(page: Page, console: Console, tmp_path: Path) -> None:
    token_file = tmp_path / "requester.token"
    token_file.write_text(console.admin_token("security", "browser-requester"))
    requested = subprocess.run(
        [
            BASTION, "exceptions", "request", "--config", str(console.stack.config),
            "--admin-token-file", str(token_file), "--rule", "pii.restricted.prod",
            "--app", "e2e-app", "--justification", "Card disputes <b>quote</b> numbers",
            "--expires", "7d", "--json",
        ],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    exception_id = json.loads(requested.stdout)["id"]
    log_in(page, console)
    page.goto(f"{console.url}/exceptions")
    row = page.get_by_role("row").filter(has_text=exception_id)
    expect(row).to_contain_text("requested")
    expect(row).to_contain_text("Card disputes <b>quote</b> numbers")  # escaped, as text
    row.get_by_label("note").first.fill("Masked on the way out; reviewed.")
    row.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("The exception was approved")
    row = page.get_by_role("row").filter(has_text=exception_id)
    expect(row.locator("td").nth(3)).to_have_text("approved")
    expect(row).to_contain_text("browser-admin")
    expect(row).to_contain_text("Masked on the way out; reviewed.")
    expect(row.get_by_role("button", name="Revoke")).to_be_visible()


def test_simulate_a_policy_decision(page: Page, console: Console) -> None:
    log_in(page, console)
    page.goto(f"{console.url}/policy")
    simulator = page.locator("#simulator")
    simulator.get_by_label("Prompt").fill(f"Please send the contract to {EMAIL} today.")
    simulator.get_by_label("app", exact=True).fill("e2e-app")
    simulator.get_by_label("Model", exact=True).fill("gpt-4o-mini")
    simulator.get_by_role("button", name="Simulate").click()
    result = page.locator("#simulator .result")
    expect(result.get_by_role("heading", level=3)).to_have_text("Decision: redact")
    expect(result).to_contain_text("pii.external")
    findings = result.locator("table").first
    expect(findings.get_by_role("row").filter(has_text="pii.email")).to_have_count(1)
    expect(result).not_to_contain_text("Nothing found.")


def test_chat_through_the_gateway_says_what_was_redacted(page: Page, console: Console) -> None:
    stack = console.stack
    log_in(page, console)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Chat").click()
    page.get_by_label("Gateway key").fill(stack.key)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("main")).to_contain_text("Talking through the gateway")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "bastion_chat_key"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console/chat" and stack.key not in cookie["value"]

    stack.clear_captures()
    prompt = f"Write to {EMAIL} about the invoice <script>alert(1)</script>"
    page.get_by_label("Message").fill(prompt)
    page.get_by_label("Model").select_option("gpt-4o-mini")
    page.get_by_role("button", name="Send").click()
    notice = page.locator(".turn-assistant .notice")
    expect(notice).to_contain_text("Redacted before leaving: pii.email")
    expect(notice).to_contain_text("pii.external")
    expect(page.locator(".turn-user .text")).to_have_text(prompt)  # escaped, as text
    # the simulator echoes what it got: the placeholder, restored to the original here
    expect(page.locator(".turn-assistant .text")).to_contain_text(EMAIL)
    (capture,) = stack.captures()
    upstream = json.dumps(capture["body"])
    assert EMAIL not in upstream and PLACEHOLDER.search(upstream)

    page.get_by_label("Message").fill(f"My key is {SECRET}, is it valid?")
    page.get_by_role("button", name="Send").click()
    refused = page.locator(".turn-user .notice").last
    expect(refused).to_contain_text("Blocked by policy")
    expect(refused).to_contain_text("policy_violation")
    expect(refused).to_contain_text("secrets.block")
    assert len(stack.captures()) == 1  # the refused message never left
    expect(page.locator(".turn")).to_have_count(3)

    page.get_by_label("Message").fill("Customer CUST-204518 asks to extend the contract.")
    page.get_by_role("button", name="Send").click()
    rerouted = page.locator(".turn-assistant .notice").last
    expect(rerouted).to_contain_text("Rerouted from gpt-4o-mini to internal-llm")
    expect(rerouted).to_contain_text("contracts.internal")
    expect(page.locator(".turn-assistant header").last).to_have_text("internal-llm")


def test_an_employee_logs_in_with_the_gateway_key_and_chats(page: Page, console: Console) -> None:
    stack = console.stack
    log_in(page, console, stack.key)  # a gateway key: the chat-only session
    expect(page).to_have_url(f"{console.url}/chat")
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link")).to_have_count(1)
    expect(nav.get_by_role("link", name="Chat")).to_be_visible()
    expect(page.locator("header.top")).to_contain_text("(gateway key)")
    expect(page.locator("main")).to_contain_text("Talking through the gateway")
    expect(page.get_by_role("button", name="Forget the key")).to_have_count(0)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "bastion_chat_key"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert stack.key not in cookie["value"]

    stack.clear_captures()
    page.get_by_label("Message").fill(f"Please write to {EMAIL} about the renewal.")
    page.get_by_label("Model").select_option("gpt-4o-mini")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".turn-assistant .notice")).to_contain_text(
        "Redacted before leaving: pii.email"
    )
    (capture,) = stack.captures()
    upstream = json.dumps(capture["body"])
    assert EMAIL not in upstream and PLACEHOLDER.search(upstream)

    # another page, with this session's cookies (as a request: a 403 page load would be
    # a console error, which fails the test)
    refused = page.request.get(f"{console.url}/audit", max_redirects=0)
    assert refused.status == 403 and "a gateway key opens only the chat" in refused.text()
