"""What the simulated model answers: echoed or scripted text, tool calls, JSON output.

The answer is decided once per request and then rendered in each wire format (chat,
Responses) by its own module. By default the content is the text of the last user
message, so a test sees exactly what the upstream received.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from bastion.testing.citations import CitedSpan
from bastion.testing.tokens import content_text

NON_ASCII_SAMPLE = "héllo wörld 日本"
_WORD = re.compile(r"\s*\S+|\s+")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model makes: a tool name and its JSON argument string, or for a
    custom (free-form) tool, ``custom`` set and its free-text input in ``arguments``."""

    name: str
    arguments: str = "{}"
    custom: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a tool call needs a non-empty name")


@dataclass(frozen=True, slots=True)
class Answer:
    """The model's answer: text content, tool calls, or a refusal (then content is
    None): chat ``message.refusal``, a Responses ``refusal`` content part. ``reasoning``,
    when set, comes before it: chat ``reasoning_content`` (as OpenAI-compatible servers
    send it), a Responses reasoning item with one summary part. ``citations`` are the
    web sources the content cites, placed in it (``url_citation`` annotations)."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    refusal: str | None = None
    reasoning: str | None = None
    citations: tuple[CitedSpan, ...] = ()

    def __post_init__(self) -> None:
        length = len(self.content or "")
        if any(span.end > length for span in self.citations):
            raise ValueError("a citation must lie within the answer's content")


def random_id(prefix: str, length: int = 24) -> str:
    """An OpenAI-looking identifier such as ``call_`` + 24 alphanumerics."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def last_user_chat_text(messages: Any) -> str:
    """Text of the last ``user`` message of a chat request (string or text parts)."""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return content_text(message.get("content"))
    return ""


def last_user_responses_text(raw_input: Any) -> str:
    """Text of the last user input of a Responses request (``input`` string or items)."""
    if isinstance(raw_input, str):
        return raw_input
    if isinstance(raw_input, list):
        for item in reversed(raw_input):
            if isinstance(item, Mapping) and item.get("role") == "user":
                return content_text(item.get("content"))
    return ""


def split_pieces(text: str, size: int) -> list[str]:
    """Split ``text`` into stream deltas of about ``size`` characters at word starts.

    The pieces concatenate back to ``text`` exactly; a word longer than ``size`` is cut.
    """
    if len(text) <= size:
        return [text] if text else []
    pieces: list[str] = []
    current = ""
    for word in _WORD.findall(text):
        if current and len(current) + len(word) > size:
            pieces.append(current)
            current = ""
        while len(word) > size:
            pieces.append(word[:size])
            word = word[size:]
        current += word
    if current:
        pieces.append(current)
    return pieces


_LOGPROB_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])|\s+$")


def token_logprobs(text: str, top: int, *, with_bytes: bool = True) -> list[dict[str, Any]]:
    """Log probabilities for ``text`` as OpenAI returns them: one entry per token (a word
    or symbol with its leading spaces; the tokens join back to ``text``), each with up to
    ``top`` alternatives, the chosen token first. ``with_bytes=False`` gives the shape of
    the Responses stream's delta events, which carry no ``bytes``."""
    entries: list[dict[str, Any]] = []
    for token in _LOGPROB_TOKEN.findall(text):
        logprob = -round(0.05 * (1 + len(token) % 5), 4)
        choices = [token] + [f"{token.strip() or token}#{k}" for k in range(1, top)]
        alternatives = [
            {
                "token": alt,
                "logprob": logprob - k,
                **({"bytes": list(alt.encode())} if with_bytes else {}),
            }
            for k, alt in enumerate(choices[:top])
        ]
        entry: dict[str, Any] = {"token": token, "logprob": logprob}
        if with_bytes:
            entry["bytes"] = list(token.encode())
        entry["top_logprobs"] = alternatives
        entries.append(entry)
    return entries


def sample_from_schema(schema: Any, text: str, depth: int = 0) -> Any:
    """A value that fits a JSON schema: strings carry ``text``, numbers are 0."""
    if not isinstance(schema, Mapping) or depth > 8:
        return text
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return {}
        return {name: sample_from_schema(sub, text, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [sample_from_schema(schema.get("items"), text, depth + 1)]
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return text


def structured_content(text: str, response_format: Any) -> str:
    """The content for a ``response_format`` (chat) or ``text.format`` (Responses).

    ``json_object`` yields ``{"echo": text}``; ``json_schema`` yields an object that
    fits the schema; anything else leaves ``text`` unchanged.
    """
    if not isinstance(response_format, Mapping):
        return text
    kind = response_format.get("type")
    if kind == "json_object":
        return orjson.dumps({"echo": text}).decode()
    if kind == "json_schema":
        holder = response_format.get("json_schema", response_format)
        schema = holder.get("schema") if isinstance(holder, Mapping) else None
        return orjson.dumps(sample_from_schema(schema or {"type": "object"}, text)).decode()
    return text


def offered_tool_names(tools: Any) -> list[str]:
    """Names of the function tools offered in a chat or Responses request."""
    names: list[str] = []
    if isinstance(tools, list):
        for tool in tools:
            if not isinstance(tool, Mapping):
                continue
            function = tool.get("function")
            name = function.get("name") if isinstance(function, Mapping) else tool.get("name")
            if isinstance(name, str):
                names.append(name)
    return names
