"""Strings the endpoint walkers did not take: scanned too, so no text leaves unread.

The walkers know where OpenAI puts text (messages, parts, tools, schemas, ...), but the
body Bastion forwards is the parsed body, with every nested key the caller sent: an
unknown key in a message, a custom tool call's ``input``, a schema's ``default``, a
``web_search_options`` location. After the walk, every string left in the body becomes
a ``metadata`` segment unless it sits where OpenAI puts identifiers or enum values (a
pass-through field's own value, a schema's ``required`` names), or is the payload of
content already listed as unscanned (an image URL, base64 audio).

What the sweep leaves out as identifiers still leaves the company, and so does every
key of every object (a schema's property names, ``metadata`` keys, an unknown key in a
message): those names are collected into one more segment (``Segment.names``), so a
value hidden in a property name or a tool name is found too. A name cannot be
rewritten: a finding there that the policy would redact refuses the call instead
(``transform.redact.Unrewritable``).
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
# Of those, the ones that name the payload rather than carry it: listed with the names.
NAMING_PAYLOAD_KEYS = frozenset({"file_id", "filename"})


# The words of the wire format itself (OpenAI's keys, types, roles, enum values): a name
# that is exactly one of them carries no data, so it is left out of the names segment
# (ordinary calls then have none to scan).
WIRE_WORDS = frozenset(
    """
    role content type text name id call_id tool_call_id status model
    system developer user assistant tool function
    messages tools tool_calls tool_choice function_call arguments parameters properties
    required description strict additionalProperties items enum const anyOf allOf oneOf
    object string integer number boolean array null default minimum maximum minItems
    maxItems minLength maxLength pattern format title examples $ref $defs definitions
    response_format json_schema json_object schema
    image_url input_audio file url detail low high auto none data file_data file_id
    filename
    input_text input_image input_file output_text refusal message reasoning summary
    summary_text function_call_output custom custom_tool_call custom_tool_call_output
    input output item_reference web_search_call file_search_call computer_call
    mcp_call mcp_list_tools code_interpreter_call completed incomplete in_progress
    stream_options include_usage include_obfuscation web_search_options
    search_context_size user_location approximate prediction metadata
    required_tools allowed_tools mode
    """.split()  # noqa: SIM905 - a word list reads better as words
)


def sweep_strings(
    body: dict[str, Any], segments: SegmentCollector, passthrough: frozenset[str]
) -> None:
    """Add every string of ``body`` that no segment covers yet, as ``metadata``, and the
    body's names and identifiers as the names segment.

    A pass-through field's string value (or list of strings) is an enum or an id
    (``tool_choice: "auto"``, ``include``); its objects are swept like any other. The
    top-level field names are not listed (each is a known field) nor is ``model``.
    """
    covered = {segment.path for segment in segments.segments}
    found: list[tuple[Path, str]] = []
    names: set[str] = set()
    for name, value in body.items():
        if name in passthrough and (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            if name != "model":
                names.update([value] if isinstance(value, str) else value)
            continue
        _collect(value, (name,), covered, found, names, payload=False)
    for path, text in found:
        segments.add(text, Source.METADATA, path)
    segments.add_names(names - WIRE_WORDS)


def _collect(
    value: Any,
    path: Path,
    covered: set[Path],
    found: list[tuple[Path, str]],
    names: set[str],
    *,
    payload: bool,
) -> None:
    # A string inside a dict or list is handled in place, not by a call of its own:
    # most of a body's values are strings (a message's role and content).
    if isinstance(value, str):
        if path not in covered:
            found.append((path, value))
    elif isinstance(value, dict):
        payload = payload or (_is_part(path) and value.get("type") in UNREADABLE_PARTS)
        for key, item in value.items():
            names.add(key)
            if key in OPAQUE_KEYS or (key == "required" and _names_properties(value)):
                continue
            if isinstance(item, str):
                if key in IDENTIFIER_KEYS:
                    if (*path, key) not in covered:  # else already a segment of its own
                        names.add(item)
                elif payload and key in PAYLOAD_KEYS:
                    if key in NAMING_PAYLOAD_KEYS:
                        names.add(item)
                elif (item_path := (*path, key)) not in covered:
                    found.append((item_path, item))
                continue
            _collect(item, (*path, key), covered, found, names, payload=payload)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                if (item_path := (*path, i)) not in covered:
                    found.append((item_path, item))
            else:
                _collect(item, (*path, i), covered, found, names, payload=payload)


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
