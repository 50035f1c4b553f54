"""Strings the endpoint walkers did not take: scanned too, so no text leaves unread.

The walkers know where OpenAI puts text (messages, parts, tools, schemas, ...), but the
body Bastion forwards is the parsed body, with every nested key the caller sent: an
unknown key in a message, a custom tool call's ``input``, a schema's ``default``, a
``web_search_options`` location. After the walk, every string left in the body becomes
a ``metadata`` segment unless it sits where OpenAI puts identifiers or enum values (a
pass-through field's own value, a schema's ``required`` names), or is the payload of
content already listed as unscanned (an image URL, base64 audio).
"""

from __future__ import annotations

from typing import Any

from bastion.model import Source
from bastion.model.conversation import Path
from bastion.wire.segments import SegmentCollector

# Keys whose string values are identifiers or enum values, not text a model reads.
IDENTIFIER_KEYS = frozenset(
    {"model", "type", "role", "id", "call_id", "tool_call_id", "status", "name"}
)
# Opaque values: encrypted reasoning, and the credentials of an MCP server the caller
# names (the tool itself is already ``content.unscanned``, so the policy decides).
OPAQUE_KEYS = frozenset({"encrypted_content", "authorization", "headers"})
# Parts whose payload Bastion cannot read (listed as unscanned by the walkers) and the
# keys under them that carry that payload.
UNREADABLE_PARTS = frozenset({"image_url", "input_audio", "file", "input_image", "input_file"})
PAYLOAD_KEYS = frozenset(
    {"url", "image_url", "data", "file_data", "file_id", "file_url", "filename"}
)


def sweep_strings(
    body: dict[str, Any], segments: SegmentCollector, passthrough: frozenset[str]
) -> None:
    """Add every string of ``body`` that no segment covers yet, as ``metadata``.

    A pass-through field's string value (or list of strings) is an enum or an id
    (``tool_choice: "auto"``, ``include``); its objects are swept like any other.
    """
    covered = {segment.path for segment in segments.segments}
    found: list[tuple[Path, str]] = []
    for name, value in body.items():
        if name in passthrough and (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            continue
        _collect(value, (name,), covered, found, payload=False)
    for path, text in found:
        segments.add(text, Source.METADATA, path)


def _collect(
    value: Any, path: Path, covered: set[Path], found: list[tuple[Path, str]], *, payload: bool
) -> None:
    if isinstance(value, str):
        if path not in covered:
            found.append((path, value))
    elif isinstance(value, dict):
        payload = payload or (_is_part(path) and value.get("type") in UNREADABLE_PARTS)
        for key, item in value.items():
            if key in OPAQUE_KEYS or (key == "required" and _names_properties(value)):
                continue
            if isinstance(item, str) and (
                key in IDENTIFIER_KEYS or (payload and key in PAYLOAD_KEYS)
            ):
                continue
            _collect(item, (*path, key), covered, found, payload=payload)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect(item, (*path, i), covered, found, payload=payload)


def _is_part(path: Path) -> bool:
    """Whether ``path`` is a content part: an item of a message's (or output's) part list."""
    return len(path) >= 2 and isinstance(path[-1], int) and path[-2] in ("content", "output")


def _names_properties(schema: dict[str, Any]) -> bool:
    """Whether ``schema["required"]`` lists names of ``schema["properties"]`` (identifiers)."""
    properties, required = schema.get("properties"), schema.get("required")
    return (
        isinstance(properties, dict)
        and isinstance(required, list)
        and all(isinstance(name, str) and name in properties for name in required)
    )
