"""Embeddings requests → segments (each input string)."""

from __future__ import annotations

from typing import Any

from bastion.errors import InvalidRequest
from bastion.model import Source
from bastion.wire.request import ConversationBuilder

MAX_INPUTS = 2048


def walk_embeddings(body: dict[str, Any], b: ConversationBuilder) -> None:
    """Collect the input texts; token arrays cannot be read and are flagged."""
    if body.get("stream") is not None:
        raise InvalidRequest(
            "embeddings do not stream.", code="unsupported_parameter", param="stream"
        )
    raw = body.get("input")
    if isinstance(raw, str):
        b.segments.add(raw, Source.USER, ("input",), message_index=0, role="user")
        return
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("input must be a string or a non-empty array.", param="input")
    if len(raw) > MAX_INPUTS:
        raise InvalidRequest(f"input has more than {MAX_INPUTS} items.", param="input")
    if all(_is_token(t) for t in raw):
        b.unscannable("token_array")  # a flat token array is one input
        return
    for i, item in enumerate(raw):
        if isinstance(item, str):
            b.segments.add(item, Source.USER, ("input", i), message_index=i, role="user")
        elif isinstance(item, list) and item and all(_is_token(t) for t in item):
            b.unscannable("token_array")
        else:
            raise InvalidRequest(
                f"input[{i}] must be a string or a token array (input is an array of "
                "strings, of token arrays, or one array of tokens).",
                param=f"input[{i}]",
            )


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
