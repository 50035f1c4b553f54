"""Governed chat: an employee talks to an approved model through the gateway's own proxy
port with their gateway key, so policy, redaction, limits and audit apply exactly as to
any application; each answer says what was redacted, rerouted or refused, and why.

The chat acts as the key's principal, never as the console's admin identity (which is
only named as ``bastion.end_user`` for the audit record). The key is asked for once and
kept sealed in a cookie (``console.chat_key``); the conversation travels in the form,
bounded, and nothing of it is stored or logged by the console. An employee who logged in
with the gateway key itself (a chat-only session) chats with that key: it can't be
swapped or forgotten here (logging out does that).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import orjson
from starlette.responses import Response

from bastion.config.schema import BastionConfig
from bastion.console.chat_key import (
    CHAT_KEY_COOKIE,
    PURPOSE,
    ChatKeySealer,
    looks_like_gateway_key,
)
from bastion.console.chat_notice import GatewayReply, answered_notice, json_body, refused_notice
from bastion.console.page import PREFIX, Action, Page, View
from bastion.errors import InvalidRequest, PermissionDenied

PATH = "/chat"
MAX_MESSAGE_CHARS = 8000
MAX_HISTORY = 12
"""Earlier messages kept and sent with a new one (the oldest are dropped)."""
TIMEOUT = aiohttp.ClientTimeout(total=60.0, connect=5.0)
KINDS = frozenset({"user", "answer", "refused"})
TONES = frozenset({"", "allow", "redact", "reroute", "block"})


@dataclass(frozen=True, slots=True)
class Turn:
    """One message shown in the conversation, with the notice the gateway's answer gave.

    ``kind``: ``user``; ``answer`` (sent and answered); ``refused`` (the user message
    the gateway refused, never sent again)."""

    role: str
    content: str
    kind: str
    model: str = ""
    tone: str = ""
    notice: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ("user", "assistant") or self.kind not in KINDS:
            raise ValueError("a turn is a user message or an answer")
        if self.tone not in TONES:
            raise ValueError(f"a turn's tone is one of {sorted(TONES)}")


# --- the proxy, over loopback -----------------------------------------------------------


def proxy_url(config: BastionConfig) -> str:
    """Where this gateway's proxy port answers from this host."""
    host = config.server.host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{config.server.port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{config.server.port}"


class GatewayUnreachable(Exception):
    """The proxy port did not answer (not running, wrong port, timeout)."""


async def _call(view: View, key: str, method: str, path: str, body: Any = None) -> GatewayReply:
    headers = {"authorization": f"Bearer {key}"}
    url = proxy_url(view.context.runtime.config) + path
    data = None if body is None else orjson.dumps(body)
    if data is not None:
        headers["content-type"] = "application/json"
    try:
        # trust_env=False: a loopback call never goes through an HTTP proxy from the env
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT, trust_env=False) as session,
            session.request(method, url, headers=headers, data=data) as response,
        ):
            return GatewayReply(response.status, response.headers.copy(), await response.read())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise GatewayUnreachable(type(exc).__name__) from exc


def _chat_models(view: View, listing: GatewayReply) -> list[str]:
    configured = view.context.runtime.config.models
    found: list[str] = []
    for entry in json_body(listing).get("data") or []:
        name = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in configured and configured[name].kind == "chat":
            found.append(name)
    return found


# --- the conversation in the form -------------------------------------------------------


def _history(view: View) -> list[Turn]:
    raw = view.form.get("history", "")
    if not raw.strip():
        return []
    try:
        items = orjson.loads(raw)
        turns = [
            Turn(
                role=str(item["role"]),
                content=str(item["content"])[:MAX_MESSAGE_CHARS],
                kind=str(item["kind"]),
                model=str(item.get("model", ""))[:200],
                tone=str(item.get("tone", ""))[:20],
                notice=tuple(str(line)[:2000] for line in item.get("notice", ())[:8]),
            )
            for item in items
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise InvalidRequest(
            "The conversation in the form could not be read; start a new one.", param="history"
        ) from None
    return turns[-MAX_HISTORY:]


def _messages(turns: list[Turn]) -> list[dict[str, str]]:
    """What is sent: user messages that were answered, and the answers."""
    return [
        {"role": turn.role, "content": turn.content} for turn in turns if turn.kind != "refused"
    ]


def _serialise(turns: list[Turn]) -> str:
    return orjson.dumps([asdict(turn) for turn in turns[-MAX_HISTORY:]]).decode("utf-8")


# --- handlers ---------------------------------------------------------------------------


def _sealer(view: View) -> ChatKeySealer:
    return ChatKeySealer(view.context.runtime.guardrails.keyring.active("signing").digest(PURPOSE))


def _key(view: View) -> str | None:
    cookie = view.request.cookies.get(CHAT_KEY_COOKIE)
    return _sealer(view).open(view.session.session_id, cookie)


def _own_key(view: View) -> None:
    """PermissionDenied in a gateway-key session: its key is the session's."""
    if view.employee:
        raise PermissionDenied(
            "This session's key is the one you logged in with; log out to use another.",
            code="console_session_key",
        )


def _forget(response: Response) -> Response:
    response.delete_cookie(CHAT_KEY_COOKIE, path=PREFIX + PATH)
    return response


def _key_form(view: View, *, status: int = 200, failed: str | None = None) -> Response:
    answer = view.render("chat.html", status=status, has_key=False, failed=failed)
    return _forget(answer) if view.request.cookies.get(CHAT_KEY_COOKIE) else answer


def _chat(
    view: View, key: str, models: list[str], turns: list[Turn], model: str | None
) -> Response:
    return view.render(
        "chat.html",
        has_key=True,
        failed=None,
        key_id=key.split("_")[1] if key.count("_") >= 2 else "",
        models=models,
        model=model if model in models else (models[0] if models else ""),
        turns=turns,
        history=_serialise(turns),
        proxy=proxy_url(view.context.runtime.config),
    )


async def _models(view: View, key: str) -> list[str] | Response:
    """The chat models the key may use, or the key form saying why there are none."""
    try:
        listing = await _call(view, key, "GET", "/v1/models")
    except GatewayUnreachable:
        url = proxy_url(view.context.runtime.config)
        return _key_form(
            view,
            status=502,
            failed=f"The gateway's proxy at {url} did not answer; is it running there?",
        )
    if listing.status_code == 401:
        return _key_form(
            view,
            status=401,
            failed="The gateway refused that key (revoked, expired or mistyped); enter "
            "another one (bst_<id>_<secret>).",
        )
    if listing.status_code != 200:
        return _key_form(view, status=502, failed=f"The gateway answered {listing.status_code}.")
    return _chat_models(view, listing)


async def show(view: View) -> Response:
    """The chat (or, until a key is given, the form asking for one)."""
    key = _key(view)
    if key is None:
        return _key_form(view)
    models = await _models(view, key)
    if isinstance(models, Response):
        return models
    return _chat(view, key, models, [], view.query("model"))


async def save_key(view: View) -> Response:
    """Keep the gateway key for this session (sealed, in the chat's own cookie)."""
    _own_key(view)
    key = (view.form.get("key") or "").strip()
    if not looks_like_gateway_key(key):
        return _key_form(
            view, status=400, failed="A gateway key looks like bst_<id>_<secret>; paste it whole."
        )
    models = await _models(view, key)
    if isinstance(models, Response):
        return models
    response = view.redirect(PATH)
    response.set_cookie(
        CHAT_KEY_COOKIE,
        _sealer(view).seal(view.session.session_id, key),
        max_age=max(60, int(view.session.expires_at - time.time())),
        path=PREFIX + PATH,
        secure=view.request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


async def forget_key(view: View) -> Response:
    """Drop the key's cookie; the chat asks for a key again."""
    _own_key(view)
    return _forget(view.redirect(PATH))


async def send(view: View) -> Response:
    """Send the message (after the conversation so far) through the gateway and show
    the answer with what the gateway did, or why it refused."""
    key = _key(view)
    if key is None:
        return _key_form(view, failed="Enter your gateway key to chat.")
    models = await _models(view, key)
    if isinstance(models, Response):
        return models
    turns = _history(view)
    message = (view.form.get("message") or "").strip()
    model = view.field("model") or ""
    if not message:
        raise InvalidRequest("write a message to send", param="message")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidRequest(
            f"a message is at most {MAX_MESSAGE_CHARS} characters", param="message"
        )
    if model not in models:
        raise InvalidRequest("choose one of the models this key may use", param="model")
    body: dict[str, Any] = {
        "model": model,
        "messages": [*_messages(turns), {"role": "user", "content": message}],
    }
    if not view.employee:  # an admin chatting with some key: named for the audit record
        body["bastion"] = {"end_user": f"console:{view.identity.subject}"[:200]}
    try:
        answer = await _call(view, key, "POST", "/v1/chat/completions", body)
    except GatewayUnreachable:
        turns.append(
            Turn("user", message, "refused", model, "block", ("The gateway did not answer.",))
        )
        return _chat(view, key, models, turns, model)
    if answer.status_code == 200:
        tone, notice = answered_notice(answer, model)
        choices = json_body(answer).get("choices") or [{}]
        content = (choices[0].get("message") or {}).get("content") or ""
        used = answer.headers.get("x-bastion-model") or model
        turns.append(Turn("user", message, "user", model))
        turns.append(Turn("assistant", str(content), "answer", used, tone, notice))
    else:
        turns.append(Turn("user", message, "refused", model, "block", refused_notice(answer)))
    response = _chat(view, key, models, turns, model)
    return _forget(response) if answer.status_code == 401 else response


PAGE = Page(
    name="chat",
    title="Chat",
    path=PATH,
    needs=("whoami",),
    employees=True,
    actions=(
        Action("GET", "", show),
        Action("POST", "/key", save_key),
        Action("POST", "/forget", forget_key),
        Action("POST", "/send", send),
    ),
)
