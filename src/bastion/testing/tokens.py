"""Deterministic token counting used for every ``usage`` field the simulator reports.

The count is an approximation of a BPE tokenizer that tests can reproduce exactly:

* ``count_tokens(text)`` is the number of word runs (``\\w+``) plus the number of
  other non-space characters (each punctuation mark or symbol is one token).
* A chat prompt costs, per message, ``MESSAGE_OVERHEAD`` (3) plus the tokens of its
  text (string content, text parts, a ``name``, tool-call names and arguments), plus
  ``REPLY_PRIMING`` (3) once, plus the tokens of the JSON of the ``tools`` offered.
  This mirrors the shape of OpenAI's own cookbook formula.
* A Responses input costs the same per input item, plus ``instructions`` counted as
  one more message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

MESSAGE_OVERHEAD = 3
REPLY_PRIMING = 3

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Number of tokens in ``text``: word runs plus single punctuation/symbol characters."""
    return len(_TOKEN.findall(text))


def truncate_to_tokens(text: str, limit: int) -> tuple[str, bool]:
    """The longest prefix of ``text`` holding at most ``limit`` tokens, and whether it was cut."""
    for position, match in enumerate(_TOKEN.finditer(text)):
        if position == limit:
            return text[: match.start()].rstrip(), True
    return text, False


def content_text(content: Any) -> str:
    """The text of a message ``content``: a string, or the text of its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def message_text(message: Mapping[str, Any]) -> str:
    """Every piece of text a chat message or Responses input item carries, joined."""
    pieces = [content_text(message.get("content"))]
    for key in ("name", "arguments", "output"):
        value = message.get(key)
        if isinstance(value, str):
            pieces.append(value)
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            pieces.append(str(function.get("name", "")))
            pieces.append(str(function.get("arguments", "")))
    return " ".join(piece for piece in pieces if piece)


def _messages_tokens(messages: Iterable[Any]) -> int:
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD
        if isinstance(message, Mapping):
            total += count_tokens(message_text(message))
    return total


def _tools_tokens(tools: Any) -> int:
    if not tools:
        return 0
    return count_tokens(orjson.dumps(tools).decode())


def chat_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Prompt tokens the simulator reports for a chat completions request body."""
    messages = body.get("messages")
    listed = messages if isinstance(messages, list) else ()
    return _messages_tokens(listed) + REPLY_PRIMING + _tools_tokens(body.get("tools"))


def responses_input_tokens(body: Mapping[str, Any]) -> int:
    """Input tokens the simulator reports for a Responses request body."""
    raw_input = body.get("input")
    items: list[Any]
    if isinstance(raw_input, str):
        items = [{"role": "user", "content": raw_input}]
    elif isinstance(raw_input, list):
        items = raw_input
    else:
        items = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        items = [{"role": "developer", "content": instructions}, *items]
    return _messages_tokens(items) + REPLY_PRIMING + _tools_tokens(body.get("tools"))
