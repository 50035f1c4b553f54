"""The tool calls the model makes in its answer, checked against the policy (issue #5).

:class:`ToolCallGuard` gives the verdict on each call — not offered, refused by a rule
of the :class:`~bastion.model.controls.ToolPlan`, or beyond the per-answer cap — and
keeps every refusal for the call record. :func:`enforce_json` applies the verdicts to a
complete chat or Responses answer; :mod:`bastion.pipeline.tool_call_stream` applies
them to streams.

With ``on_disallowed_call: remove`` a refused call is dropped and the others stay; when
none remains the answer says so in assistant text, one
``[tool call NAME refused by policy rule RULE]`` per refused call joined by spaces
(after a space when the model wrote text first), with ``finish_reason: "stop"``
(chat, when it was ``tool_calls``/``function_call``) or an added assistant message
(Responses); streams also get a comment ``: bastion tool_call_refused=NAME rule=RULE``
per refused call. With ``refuse`` the first refused call raises
:class:`~bastion.errors.PermissionDenied`, which ends a stream as CONTRACT.md §5 says.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from bastion.errors import PermissionDenied
from bastion.model.controls import NOT_OFFERED_RULE, ToolPlan, ToolRefusal

TOOL_ITEM_TYPES = frozenset({"function_call", "custom_tool_call"})
"""Responses output items that are calls of tools the client runs."""
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_NAME_MAX = 64
TOOL_FINISH_REASONS = ("tool_calls", "function_call")


def shown_name(name: str) -> str:
    """A tool name safe to show in text, comments and errors: the characters OpenAI
    allows in function names, at most 64 (the model may write any name)."""
    shown = "".join(c if c in _NAME_CHARS else "_" for c in name[:_NAME_MAX])
    return shown or "_"


def refusal_text(refusals: Sequence[ToolRefusal]) -> str:
    """The assistant text an answer whose calls were all refused becomes."""
    return " ".join(
        f"[tool call {shown_name(r.tool)} refused by policy rule {r.rule}]" for r in refusals
    )


def refusal_error(refusal: ToolRefusal) -> PermissionDenied:
    """The 403 ``policy_violation`` that refuses a whole answer for one tool call."""
    name = shown_name(refusal.tool)
    return PermissionDenied(
        f"The answer was refused: it calls the tool `{name}`, which policy rule "
        f"`{refusal.rule}` does not allow ({refusal.reason}).",
        bastion={"decision": "block", "rules": [refusal.rule], "tools": [name]},
    )


class ToolCallGuard:
    """The verdict on each tool call of one answer, and the record of every refusal.

    ``check`` must see the calls of one choice (``scope``; Responses: 0) in the order
    the model made them: the cap counts the calls allowed so far, so a removed call
    does not use up the allowance. In ``refuse`` mode a refusal raises
    :class:`PermissionDenied` instead of being returned.
    """

    def __init__(self, plan: ToolPlan, offered: frozenset[str]) -> None:
        self.plan = plan
        self.offered = offered
        self.refusals: list[ToolRefusal] = []
        self._allowed: dict[int, int] = {}

    @property
    def refuses_answer(self) -> bool:
        """Whether a refused call refuses the whole answer (else it is removed)."""
        return self.plan.on_disallowed_call == "refuse"

    @property
    def rules(self) -> tuple[str, ...]:
        """The ids of the rules that refused calls, each once, in order."""
        return tuple(dict.fromkeys(refusal.rule for refusal in self.refusals))

    def check_name(self, name: str) -> ToolRefusal | None:
        """Refuse a call of a tool the request did not offer (known from its name alone)."""
        if name in self.offered:
            return None
        return self._refuse(ToolRefusal(name, NOT_OFFERED_RULE, "the request did not offer it"))

    def check(
        self, name: str, arguments: str, scope: int = 0, *, free_text: bool = False
    ) -> ToolRefusal | None:
        """The verdict on one complete call: None when the client may receive it.
        ``free_text``: a custom tool's input, checked as the JSON ``{"input": text}``
        (so a policy constrains it as ``arguments: {input: ...}``)."""
        refusal = self.check_name(name)
        if refusal is not None:
            return refusal
        if free_text:
            arguments = json.dumps({"input": arguments})
        refusal = self.plan.call(name, arguments)
        if refusal is None:
            allowed = self._allowed.get(scope, 0)
            cap = self.plan.max_calls
            if cap is None or allowed < cap:
                self._allowed[scope] = allowed + 1
                return None
            refusal = ToolRefusal(name, self.plan.cap_rule, f"more than {cap} calls in one answer")
        return self._refuse(refusal)

    def _refuse(self, refusal: ToolRefusal) -> ToolRefusal:
        self.refusals.append(refusal)
        if self.refuses_answer:
            raise refusal_error(refusal)
        return refusal


def enforce_json(payload: dict[str, Any], guard: ToolCallGuard) -> list[ToolRefusal]:
    """Apply the guard to a complete chat or Responses answer, editing it in place.

    Returns the refusals (the payload changed exactly when there are any); raises
    :class:`PermissionDenied` in ``refuse`` mode.
    """
    if "choices" in payload:
        return _enforce_chat(payload, guard)
    if isinstance(payload.get("output"), list):
        return _enforce_responses(payload, guard)
    return []


def chat_call_parts(entry: Any) -> tuple[str, str, bool]:
    """(name, arguments, arguments are JSON) of a chat tool call or one of its deltas;
    custom tools carry ``custom.input`` (free text) instead of ``function.arguments``."""
    function = entry.get("function") if isinstance(entry, dict) else None
    key = "arguments"
    if not isinstance(function, dict):
        custom = entry.get("custom") if isinstance(entry, dict) else None
        function, key = (custom, "input") if isinstance(custom, dict) else ({}, "arguments")
    name, arguments = function.get("name"), function.get(key)
    return (
        name if isinstance(name, str) else "",
        arguments if isinstance(arguments, str) else "",
        key == "arguments",
    )


def _enforce_chat(payload: dict[str, Any], guard: ToolCallGuard) -> list[ToolRefusal]:
    refused: list[ToolRefusal] = []
    choices = payload["choices"]
    for choice in choices if isinstance(choices, list) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        index = choice.get("index", 0)
        scope = index if isinstance(index, int) else 0
        here: list[ToolRefusal] = []
        calls = message.get("tool_calls")
        kept: list[Any] = []
        for call in calls if isinstance(calls, list) else ():
            name, arguments, is_json = chat_call_parts(call)
            refusal = guard.check(name, arguments, scope, free_text=not is_json)
            if refusal is None:
                kept.append(call)
            else:
                here.append(refusal)
        legacy = message.get("function_call")
        if isinstance(legacy, dict):
            name, arguments, _ = chat_call_parts({"function": legacy})
            refusal = guard.check(name, arguments, scope)
            if refusal is None:
                kept.append(legacy)
            else:
                here.append(refusal)
                del message["function_call"]
        if not here:
            continue
        refused += here
        if isinstance(calls, list):
            if any(call is not legacy for call in kept):
                message["tool_calls"] = [call for call in kept if call is not legacy]
            else:
                del message["tool_calls"]
        if not kept:
            text = message.get("content")
            before = text + " " if isinstance(text, str) and text else ""
            message["content"] = before + refusal_text(here)
            if choice.get("finish_reason") in TOOL_FINISH_REASONS:
                choice["finish_reason"] = "stop"
    return refused


def _enforce_responses(payload: dict[str, Any], guard: ToolCallGuard) -> list[ToolRefusal]:
    refused: list[ToolRefusal] = []
    kept: list[Any] = []
    for item in payload["output"]:
        if isinstance(item, dict) and item.get("type") in TOOL_ITEM_TYPES:
            name, arguments = item_call_parts(item)
            refusal = guard.check(name, arguments, free_text=is_free_text(item))
            if refusal is not None:
                refused.append(refusal)
                continue
        kept.append(item)
    if refused:
        if not holds_answer(kept):
            kept.append(message_item(refusal_text(refused)))
        payload["output"] = kept
    return refused


def is_free_text(item: dict[str, Any]) -> bool:
    """Whether a Responses tool item carries free text (a custom tool's ``input``)."""
    return item.get("type") == "custom_tool_call"


def item_call_parts(item: dict[str, Any]) -> tuple[str, str]:
    """(name, arguments) of a Responses ``function_call`` or ``custom_tool_call`` item."""
    name = item.get("name")
    arguments = item.get("arguments", item.get("input"))
    return (name if isinstance(name, str) else ""), (
        arguments if isinstance(arguments, str) else ""
    )


def holds_answer(output: Sequence[Any]) -> bool:
    """Whether Responses output still holds a tool call or a message."""
    return any(
        isinstance(item, dict)
        and (item.get("type") in TOOL_ITEM_TYPES or item.get("type") == "message")
        for item in output
    )


def message_item(text: str, *, item_id: str | None = None) -> dict[str, Any]:
    """A completed Responses assistant message holding ``text``."""
    return {
        "id": item_id or "msg_" + secrets.token_hex(24),
        "type": "message",
        "status": "completed",
        "content": [text_part(text)],
        "role": "assistant",
    }


def text_part(text: str) -> dict[str, Any]:
    """A Responses ``output_text`` content part."""
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
