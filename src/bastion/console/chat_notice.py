"""What the gateway did to a chat message, in words: built from its answer's headers
(CONTRACT.md §6: redacted classes, rules, the model used, an exception, a shadow
verdict) or, for a refusal, from the OpenAI-style error and its ``bastion`` object
(§5: message, code, rules, class names, a hint). Never a value of the message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class GatewayReply:
    """The proxy's answer to a chat call: status, headers (case-insensitive), body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


REFUSALS = {
    "policy_violation": "Blocked by policy",
    "exception_required": "Needs an approved exception",
    "exception_invalid": "The named exception does not apply",
    "rate_limit_exceeded": "Rate limited",
    "budget_exceeded": "Budget exhausted",
    "invalid_api_key": "The gateway refused this key",
    "model_not_found": "This key may not use that model",
}


def json_body(response: GatewayReply) -> dict[str, Any]:
    """The answer's JSON object ({} when it is not one)."""
    try:
        value = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _items(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _rules(rules: list[str]) -> str:
    if not rules:
        return ""
    return (" (rule " if len(rules) == 1 else " (rules ") + ", ".join(rules) + ")"


def answered_notice(response: GatewayReply, asked: str) -> tuple[str, tuple[str, ...]]:
    """The tone and lines telling what the gateway did to an answered call."""
    headers = response.headers
    redacted = _items(headers.get("x-bastion-redacted"))
    rules = _rules(_items(headers.get("x-bastion-rules")))
    used = headers.get("x-bastion-model") or asked
    lines: list[str] = []
    if redacted:
        lines.append(
            f"Redacted before leaving: {', '.join(redacted)}{rules}. The model saw "
            "placeholders; pseudonyms it repeated are restored in this answer."
        )
    if used != asked:
        lines.append(f"Rerouted from {asked} to {used}{'' if redacted else rules}.")
    exception = headers.get("x-bastion-exception")
    if exception:
        lines.append(f"Exception {exception} applied.")
    shadow = headers.get("x-bastion-shadow-decision")
    if shadow:
        lines.append(f"A rule on trial (shadow) would have decided: {shadow}.")
    if not lines:
        lines.append("Sent as written: nothing needed redacting.")
    tone = "redact" if redacted else "reroute" if used != asked else "allow"
    return tone, tuple(lines)


def refused_notice(response: GatewayReply) -> tuple[str, ...]:
    """What the gateway said when it refused a call: its message, code and why."""
    body = json_body(response)
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = str(error.get("code") or f"http_{response.status_code}")
    message = str(error.get("message") or "The gateway refused the call.")
    lines = [f"{REFUSALS.get(code, 'Refused by the gateway')}: {message}"]
    why = [f"code {code}", f"HTTP {response.status_code}"]
    detail = body.get("bastion") if isinstance(body.get("bastion"), dict) else {}
    assert isinstance(detail, dict)
    rules = detail.get("rules") or _items(response.headers.get("x-bastion-rules"))
    if isinstance(rules, list) and rules:
        why.append("rules " + ", ".join(str(rule) for rule in rules))
    classes = detail.get("classes")
    if isinstance(classes, dict) and classes:
        why.append("classes " + ", ".join(str(name) for name in sorted(classes)))
    elif isinstance(classes, list) and classes:
        why.append("classes " + ", ".join(_class_name(item) for item in classes))
    retry = response.headers.get("retry-after")
    if retry:
        why.append(f"retry after {retry} s")
    lines.append("; ".join(why) + ".")
    if detail.get("exception_hint"):
        lines.append(f"Hint: {detail['exception_hint']}")
    return tuple(lines)


def _class_name(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("class") or item.get("name") or "?")
    return str(item)
