"""The governed chat: it talks to the gateway's own proxy port over loopback as the
employee's gateway key (so policy, redaction and audit apply as to any app), keeps the
key sealed in the browser only, and says for each message what was redacted, rerouted
or refused, and why."""

from __future__ import annotations

import asyncio
import html as html_lib
import json
import re
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import uvicorn
from tests.console.console_client import client, form_token, log_in, logged_in
from tests.server.admin_stack import AdminStack, admin_stack, identity

from bastion.config.schema import BastionConfig
from bastion.console.chat_key import CHAT_KEY_COOKIE, ChatKeySealer, looks_like_gateway_key
from bastion.console.chat_notice import answered_notice, refused_notice
from bastion.console.session import SESSION_COOKIE
from bastion.console.views import chat as chat_view
from bastion.console.views.chat import proxy_url
from bastion.identity.issuing import KeySpec

ON_THE_STACK = pytest.mark.asyncio(loop_scope="module")

EMAIL = "dana.lopez@example.com"
SECRET = "my key is AKIAQ3EGRTZ5LXKW7NUC and wJa1rXUtnFEMI/K7MDENG/bPxRfiCYz9kq2Lw8e"  # live-shaped
PLACEHOLDER = re.compile(r"<[A-Z_]+_[0-9a-f]{8,}>")
CHAT = "/console/chat"


class Chat:
    """The stack, its simulator's base URL, and the proxy served on a real local port."""

    def __init__(self, stack: AdminStack, sim_url: str) -> None:
        self.stack = stack
        self.sim_url = sim_url

    async def captures(self) -> list[dict[str, object]]:
        async with httpx.AsyncClient() as client:
            found: list[dict[str, object]] = (
                await client.get(f"{self.sim_url}/_sim/captures")
            ).json()["captures"]
        return found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chat(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chat]:
    """A gateway whose proxy port answers on 127.0.0.1 (the chat's loopback calls)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server_section = {"max_body_bytes": 65536, "host": "127.0.0.1", "port": port}
    work = tmp_path_factory.mktemp("console-chat")
    async with admin_stack(work, server=server_section) as stack:
        server = uvicorn.Server(
            uvicorn.Config(stack.apps.proxy, lifespan="off", log_level="warning", access_log=False)
        )
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        upstream = str(stack.apps.runtime.config.providers["sim"].base_url)
        try:
            yield Chat(stack, upstream.removesuffix("/v1"))
        finally:
            server.should_exit = True
            await task
            sock.close()


async def give_key(browser: httpx.AsyncClient, key: str) -> httpx.Response:
    shown = await browser.get(CHAT)
    return await browser.post(f"{CHAT}/key", data={"csrf": form_token(shown.text), "key": key})


async def say(
    browser: httpx.AsyncClient, message: str, history: str = "", model: str = "gpt-4o-mini"
) -> httpx.Response:
    shown = await browser.get(CHAT)
    fields = {"csrf": form_token(shown.text), "message": message, "model": model}
    return await browser.post(f"{CHAT}/send", data={**fields, "history": history})


def history_of(html: str) -> str:
    """The conversation the page carries in its form, unescaped as a browser would."""
    raw = html.partition('name="history" value="')[2].partition('"')[0]
    return html_lib.unescape(raw)


# --- the key --------------------------------------------------------------------------


@ON_THE_STACK
async def test_the_chat_asks_for_a_gateway_key_first(chat: Chat) -> None:
    async with logged_in(chat.stack, "auditor") as browser:
        page = await browser.get(CHAT)
        assert page.status_code == 200
        assert 'name="key" type="password"' in page.text and "/send" not in page.text


@ON_THE_STACK
async def test_a_malformed_or_unknown_key_is_refused_with_what_to_do(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        malformed = await give_key(browser, "sk-not-a-gateway-key")
        assert malformed.status_code == 400 and "bst_&lt;id&gt;_&lt;secret&gt;" in malformed.text
        unknown = await give_key(browser, "bst_abcdefgh_" + "x" * 32)
        assert unknown.status_code == 401 and "refused that key" in unknown.text
        assert CHAT_KEY_COOKIE not in browser.cookies


@ON_THE_STACK
async def test_the_key_is_kept_sealed_in_a_strict_cookie_for_this_session(chat: Chat) -> None:
    key_id, key = chat.stack.keys["shop"]
    async with logged_in(chat.stack, "owner") as browser:
        stored = await give_key(browser, key)
        assert stored.status_code == 303 and stored.headers["location"] == CHAT
        cookie = stored.headers["set-cookie"]
        assert cookie.startswith(f"{CHAT_KEY_COOKIE}=") and key not in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/console/chat" in cookie
        page = await browser.get(CHAT)
        assert f"bst_{key_id}_…" in page.text and key not in page.text
        assert '<option value="gpt-4o-mini" selected>' in page.text
        sealed = browser.cookies[CHAT_KEY_COOKIE]
    async with logged_in(chat.stack, "owner") as other_session:
        other_session.cookies.set(CHAT_KEY_COOKIE, sealed, path=CHAT)
        page = await other_session.get(CHAT)
        assert 'name="key" type="password"' in page.text  # another session cannot open it


@ON_THE_STACK
async def test_forgetting_the_key_clears_its_cookie(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        await give_key(browser, chat.stack.keys["ops"][1])
        page = await browser.get(CHAT)
        forgot = await browser.post(f"{CHAT}/forget", data={"csrf": form_token(page.text)})
        assert forgot.status_code == 303
        assert f'{CHAT_KEY_COOKIE}=""' in forgot.headers["set-cookie"]
        assert 'name="key" type="password"' in (await browser.get(CHAT)).text


# --- messages through the gateway -----------------------------------------------------


@ON_THE_STACK
async def test_a_redacted_message_says_which_class_left_as_a_placeholder(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        await give_key(browser, chat.stack.keys["shop"][1])
        before = len(await chat.captures())
        answer = await say(browser, f"Please write to {EMAIL} about the invoice.")
        assert answer.status_code == 200, answer.text
        assert "Redacted before leaving: pii.email (rule pii.redact)" in answer.text
        upstream = json.dumps((await chat.captures())[before]["body"])
        assert EMAIL not in upstream
        turns = json.loads(history_of(answer.text))
        assert [t["kind"] for t in turns] == ["user", "answer"]
        assert turns[1]["model"] == "gpt-4o-mini" and turns[1]["tone"] == "redact"


@ON_THE_STACK
async def test_the_call_is_the_keys_own_and_names_the_console_user(chat: Chat) -> None:
    key_id, key = chat.stack.keys["crm"]
    async with logged_in(chat.stack, "security") as browser:
        await give_key(browser, key)
        assert (await say(browser, "status of the crm export?")).status_code == 200
    await chat.stack.settle()
    found = await chat.stack.api("admin", "GET", "/audit/events", key_id=key_id)
    (record,) = found.json()["data"]
    assert record["app"] == "crm" and record["decision"] == "allow"
    event = await chat.stack.api("admin", "GET", f"/audit/events/{record['request_id']}")
    assert event.json()["record"]["end_user_claimed"] == "console:sec"


@ON_THE_STACK
async def test_a_refused_message_says_why_and_is_not_sent_again(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        await give_key(browser, chat.stack.keys["ops"][1])
        refused = await say(browser, SECRET)
        assert refused.status_code == 200
        assert "Blocked by policy" in refused.text and "code policy_violation" in refused.text
        assert "HTTP 403" in refused.text and "secrets.block" in refused.text
        before = len(await chat.captures())
        follow_up = await say(browser, "and now hello", history_of(refused.text))
        assert follow_up.status_code == 200
        (sent,) = (await chat.captures())[before:]
        upstream = json.dumps(sent["body"])
        assert "AKIA" not in upstream and "and now hello" in upstream
        assert [t["kind"] for t in json.loads(history_of(follow_up.text))] == [
            "refused",
            "user",
            "answer",
        ]


@ON_THE_STACK
async def test_the_conversation_so_far_is_sent_with_a_new_message(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        await give_key(browser, chat.stack.keys["ops"][1])
        first = await say(browser, "first question")
        before = len(await chat.captures())
        await say(browser, "second question", history_of(first.text))
        (sent,) = (await chat.captures())[before:]
        messages = sent["body"]["messages"]  # type: ignore[index]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[0]["content"] == "first question"


@ON_THE_STACK
async def test_user_text_and_answers_are_escaped(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        await give_key(browser, chat.stack.keys["ops"][1])
        answer = await say(browser, "<script>alert('x')</script>")
        assert "<script>alert" not in answer.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in answer.text


@ON_THE_STACK
async def test_a_model_the_key_may_not_use_and_a_bad_history_are_refused(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        await give_key(browser, chat.stack.keys["ops"][1])
        other = await say(browser, "hi", model="gpt-9")
        assert other.status_code == 400 and "models this key may use" in other.text
        for history in ('[{"role": "system"}]', '{"a": 1}', "not json"):
            tampered = await say(browser, "hi", history=history)
            assert tampered.status_code == 400 and "start a new one" in tampered.text
        odd_tone = '[{"role": "user", "content": "x", "kind": "user", "tone": "x y"}]'
        assert (await say(browser, "hi", history=odd_tone)).status_code == 400


@ON_THE_STACK
async def test_without_a_key_cookie_a_message_asks_for_the_key(chat: Chat) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        answer = await say(browser, "hello")
        assert answer.status_code == 200 and 'name="key" type="password"' in answer.text


# --- pieces ---------------------------------------------------------------------------


def test_a_sealed_key_opens_only_for_its_session_and_unaltered() -> None:
    sealer = ChatKeySealer(b"k" * 32)
    key = "bst_abcdefgh_" + "s" * 32
    cookie = sealer.seal("session-1", key)
    assert key not in cookie and "s" * 8 not in cookie
    assert sealer.open("session-1", cookie) == key
    assert sealer.open("session-2", cookie) is None
    assert sealer.open("session-1", cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + "x") is None
    assert ChatKeySealer(b"j" * 32).open("session-1", cookie) is None
    assert sealer.open("session-1", "v2." + cookie[3:]) is None
    assert sealer.open("session-1", None) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [("bst_abcdefgh_" + "s" * 32, True), ("sk-abc", False), ("bst_a b", False), ("", False)],
)
def test_only_gateway_key_shapes_are_taken(value: str, ok: bool) -> None:
    assert looks_like_gateway_key(value) is ok


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("::1", "http://[::1]:8080"),
        ("gateway.internal", "http://gateway.internal:8080"),
    ],
)
def test_the_proxy_is_reached_on_loopback_when_bound_to_every_address(host: str, url: str) -> None:
    config = BastionConfig.model_validate({"server": {"host": host, "port": 8080}})
    assert proxy_url(config) == url


def _response(status: int, headers: dict[str, str], body: object = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, content=json.dumps(body or {}).encode())


def test_a_reroute_and_an_exception_are_named() -> None:
    tone, lines = answered_notice(
        _response(
            200,
            {
                "x-bastion-decision": "reroute",
                "x-bastion-model": "internal-llm",
                "x-bastion-rules": "contracts.internal",
                "x-bastion-exception": "exc_1",
            },
        ),
        "gpt-4o",
    )
    assert tone == "reroute"
    assert lines == (
        "Rerouted from gpt-4o to internal-llm (rule contracts.internal).",
        "Exception exc_1 applied.",
    )


def test_an_allowed_call_says_nothing_was_redacted() -> None:
    tone, lines = answered_notice(_response(200, {"x-bastion-decision": "allow"}), "m")
    assert tone == "allow" and lines == ("Sent as written: nothing needed redacting.",)


def test_a_limit_says_when_to_retry_and_an_exception_hint_is_shown() -> None:
    limited = refused_notice(
        _response(
            429,
            {"retry-after": "12"},
            {
                "error": {
                    "message": "Too many requests for app shop.",
                    "code": "rate_limit_exceeded",
                }
            },
        )
    )
    assert limited == (
        "Rate limited: Too many requests for app shop.",
        "code rate_limit_exceeded; HTTP 429; retry after 12 s.",
    )
    needs = refused_notice(
        _response(
            403,
            {},
            {
                "error": {"message": "Cards need an exception.", "code": "exception_required"},
                "bastion": {
                    "rules": ["pii.restricted.prod"],
                    "classes": {"pii.credit_card": 1},
                    "exception_hint": "bastion exceptions request --rule pii.restricted.prod",
                },
            },
        )
    )
    assert needs[0] == "Needs an approved exception: Cards need an exception."
    assert "rules pii.restricted.prod; classes pii.credit_card" in needs[1]
    assert needs[2].startswith("Hint: bastion exceptions request")


@ON_THE_STACK
async def test_a_gateway_that_does_not_answer_is_said_so(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with logged_in(chat.stack, "admin") as browser:
        await give_key(browser, chat.stack.keys["ops"][1])
        monkeypatch.setattr(chat_view, "proxy_url", lambda _config: "http://127.0.0.1:9")
        page = await browser.get(CHAT)
        assert page.status_code == 502
        assert "proxy at http://127.0.0.1:9 did not answer" in page.text


# --- an employee's chat-only session (logged in with the gateway key) ---------------------


async def employee_key(chat: Chat, user: str) -> tuple[str, str]:
    """A fresh gateway key of ``user`` (id, plaintext), for a test that may revoke it."""
    spec = KeySpec(name=f"{user}-laptop", user=user, team="fin")
    issued = await chat.stack.governance.create_key(identity("admin"), spec)
    return issued.stored.key_id, issued.plaintext


@ON_THE_STACK
async def test_an_employee_logs_in_with_the_gateway_key_to_the_chat_only(chat: Chat) -> None:
    key_id, key = await employee_key(chat, "erin")
    async with client(chat.stack) as browser:
        login = await log_in(browser, key)
        assert login.status_code == 303 and login.headers["location"] == CHAT
        cookies = [c.lower() for c in login.headers.get_list("set-cookie")]
        session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
        sealed = next(c for c in cookies if c.startswith(f"{CHAT_KEY_COOKIE}="))
        assert key.split("_")[2].lower() not in session  # the session names only the key id
        assert key_id.lower() in session and key.lower() not in sealed
        for cookie in (session, sealed):
            assert "httponly" in cookie and "samesite=strict" in cookie
        assert f"path={CHAT}" in sealed
        page = await browser.get(CHAT)
        assert page.status_code == 200
        assert f"bst_{key_id}_" in page.text and "erin" in page.text
        assert "(gateway key)" in page.text
        assert 'href="/console/overview"' not in page.text  # the navigation: the chat only
        assert "Forget the key" not in page.text
        home = await browser.get("/console/")
        assert home.status_code == 303 and home.headers["location"] == CHAT
        for other in ("/console/overview", "/console/audit", "/console/keys"):
            refused = await browser.get(other)
            assert refused.status_code == 403, other
            assert "gateway key opens only the chat" in refused.text
        csrf = form_token(page.text)
        other_key = chat.stack.keys["ops"][1]
        swapped = await browser.post(f"{CHAT}/key", data={"csrf": csrf, "key": other_key})
        assert swapped.status_code == 403  # the session's key is the one logged in with
        assert (await browser.post(f"{CHAT}/forget", data={"csrf": csrf})).status_code == 403
        no_csrf = await browser.post(f"{CHAT}/send", data={"message": "hi", "model": "gpt-4o-mini"})
        assert no_csrf.status_code == 403


@ON_THE_STACK
async def test_an_employee_chat_is_governed_as_the_keys_own_calls(chat: Chat) -> None:
    key_id, key = await employee_key(chat, "frank")
    async with client(chat.stack) as browser:
        assert (await log_in(browser, key)).status_code == 303
        answer = await say(browser, f"Please write to {EMAIL} about the invoice.")
        assert answer.status_code == 200, answer.text
        assert "Redacted before leaving: pii.email (rule pii.redact)" in answer.text
    await chat.stack.settle()
    found = await chat.stack.api("admin", "GET", "/audit/events", key_id=key_id)
    (record,) = found.json()["data"]
    assert record["decision"] == "redact"
    event = await chat.stack.api("admin", "GET", f"/audit/events/{record['request_id']}")
    assert event.json()["record"]["end_user_claimed"] is None  # no admin to name


@ON_THE_STACK
async def test_revoking_the_key_ends_the_employee_session(chat: Chat) -> None:
    key_id, key = await employee_key(chat, "gus")
    async with client(chat.stack) as browser:
        assert (await log_in(browser, key)).status_code == 303
        assert (await browser.get(CHAT)).status_code == 200
        revoked = await chat.stack.api("admin", "POST", f"/keys/{key_id}/revoke")
        assert revoked.status_code == 200, revoked.text
        ended = await browser.get(CHAT)
        assert ended.status_code == 303 and ended.headers["location"] == "/console/login"
        again = await log_in(browser, key)
        assert again.status_code == 401 and "not valid" in again.text


@ON_THE_STACK
async def test_a_key_session_does_not_open_with_another_sessions_key_cookie(chat: Chat) -> None:
    _, key = await employee_key(chat, "hana")
    _, other = await employee_key(chat, "ivan")
    async with client(chat.stack) as first, client(chat.stack) as second:
        assert (await log_in(first, key)).status_code == 303
        assert (await log_in(second, other)).status_code == 303
        # the second session with the first one's sealed key: it opens for no other session
        second.cookies.set(CHAT_KEY_COOKIE, first.cookies[CHAT_KEY_COOKIE], path=CHAT)
        moved = await second.get(CHAT)
        assert moved.status_code == 303 and moved.headers["location"] == "/console/login"
