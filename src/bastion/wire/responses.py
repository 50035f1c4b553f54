"""Responses API requests → segments (input items, instructions, tools, text format)."""

from __future__ import annotations

from typing import Any

from bastion.errors import InvalidRequest
from bastion.model import Source
from bastion.model.controls import tool_name
from bastion.wire.chat import ROLE_SOURCE
from bastion.wire.request import ConversationBuilder

MAX_ITEMS = 10_000
_TEXT_PARTS = ("input_text", "output_text", "text", "refusal", "summary_text", "reasoning_text")
_UNREADABLE_PARTS = {"input_image": "image", "input_audio": "audio", "input_file": "file"}
_ID_KEYS = frozenset({"type", "id", "call_id", "status", "role", "name", "encrypted_content"})
# What hosted tools and MCP servers returned, inside the items that record their calls:
# text the model reads as a tool's result, not as something it wrote itself.
_TOOL_RESULT_KEYS = {
    "mcp_call": frozenset({"output", "error"}),
    "mcp_list_tools": frozenset({"tools", "error"}),
    "file_search_call": frozenset({"results"}),
    "web_search_call": frozenset({"action"}),
    "code_interpreter_call": frozenset({"outputs"}),
    "image_generation_call": frozenset({"result"}),
}


def walk_responses(body: dict[str, Any], b: ConversationBuilder) -> None:
    """Collect every text of a Responses body, with its provenance and place."""
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        b.add_message_text(raw_input, Source.USER, ("input",), message=0, role="user")
    elif isinstance(raw_input, list):
        if len(raw_input) > MAX_ITEMS:
            raise InvalidRequest(f"input has more than {MAX_ITEMS} items.", param="input")
        for i, item in enumerate(raw_input):
            _walk_item(item, i, b)
    elif raw_input is not None:
        raise InvalidRequest("input must be a string or an array of items.", param="input")
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        b.segments.add(instructions, Source.SYSTEM, ("instructions",))
    elif instructions is not None:
        raise InvalidRequest("instructions must be a string.", param="instructions")
    if raw_input is None and body.get("prompt") is None:
        raise InvalidRequest("input is required.", param="input")
    if body.get("background") is True:
        # Its answer is fetched later from GET /v1/responses/{id}, which Bastion does not
        # serve: it would be neither checked nor counted (and the upstream keeps
        # generating, billed, after a streamed one is dropped).
        raise InvalidRequest(
            "background responses are not supported: their answer is fetched later from "
            "GET /v1/responses/{id}, which Bastion does not serve. Leave background unset "
            "or false (stream: true gives the answer as it is written).",
            code="unsupported_parameter",
            param="background",
        )
    for field in ("previous_response_id", "conversation"):
        if body.get(field) is not None:
            b.unscannable(field)
    _walk_prompt(body, b)
    _walk_tools(body, b)
    text = body.get("text")
    if isinstance(text, dict) and isinstance(text.get("format"), dict):
        fmt = text["format"]
        if isinstance(fmt.get("description"), str):
            b.segments.add(fmt["description"], Source.SYSTEM, ("text", "format", "description"))
        b.add_schema_texts(fmt.get("schema"), ("text", "format", "schema"))


def _walk_item(item: Any, i: int, b: ConversationBuilder) -> None:
    param = f"input[{i}]"
    if not isinstance(item, dict):
        raise InvalidRequest(f"{param} must be an object.", param=param)
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise InvalidRequest(f"{param}.type must be a string.", param=f"{param}.type")
    if kind == "message":
        role = item.get("role")
        source = ROLE_SOURCE.get(role) if isinstance(role, str) else None
        if source is None or not isinstance(role, str):
            raise InvalidRequest(f"{param}.role is not a known role.", param=f"{param}.role")
        content = item.get("content")
        if isinstance(content, str):
            b.add_message_text(content, source, ("input", i, "content"), message=i, role=role)
        elif isinstance(content, list):
            for j, part in enumerate(content):
                _walk_part(part, i, j, source, role, b)
        else:
            raise InvalidRequest(f"{param}.content must be a string or parts.", param=param)
    elif kind == "function_call_output" or kind == "custom_tool_call_output":
        output = item.get("output")
        if isinstance(output, str):
            path = ("input", i, "output")
            b.add_message_text(output, Source.TOOL_RESULT, path, message=i, role="tool")
        elif isinstance(output, list):
            for j, part in enumerate(output):
                _walk_part(part, i, j, Source.TOOL_RESULT, "tool", b, field="output")
    elif kind == "item_reference":
        b.unscannable("item_reference")
    else:
        # function_call, reasoning, mcp_*, computer_call_output, ...: every string counts.
        source = Source.TOOL_RESULT if kind.endswith("_output") else Source.ASSISTANT
        results = _TOOL_RESULT_KEYS.get(kind, frozenset())
        for key, value in item.items():
            if key in _ID_KEYS and isinstance(value, str):
                continue
            from_tool = Source.TOOL_RESULT if key in results else source
            _walk_strings(value, ("input", i, key), from_tool, i, b)


def _walk_part(
    part: Any,
    i: int,
    j: int,
    source: Source,
    role: str,
    b: ConversationBuilder,
    field: str = "content",
) -> None:
    param = f"input[{i}].{field}[{j}]"
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise InvalidRequest(f"{param} must be a content part with a type.", param=param)
    kind = part["type"]
    if kind in _TEXT_PARTS:
        key = "refusal" if kind == "refusal" else "text"
        text = part.get(key)
        if not isinstance(text, str):
            raise InvalidRequest(f"{param}.{key} must be a string.", param=f"{param}.{key}")
        path = ("input", i, field, j, key)
        b.add_message_text(text, source, path, message=i, part=j, role=role)
    elif kind in _UNREADABLE_PARTS:
        b.unscannable(_UNREADABLE_PARTS[kind])
    else:
        _walk_strings(part, ("input", i, field, j), source, i, b)


def _walk_strings(
    value: Any, path: tuple[str | int, ...], source: Source, i: int, b: ConversationBuilder
) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _ID_KEYS and isinstance(item, str):
                continue
            _walk_strings(item, (*path, key), source, i, b)
    elif isinstance(value, list):
        for k, item in enumerate(value):
            _walk_strings(item, (*path, k), source, i, b)
    elif isinstance(value, str):
        b.segments.add(value, source, path, message_index=i)


def _walk_prompt(body: dict[str, Any], b: ConversationBuilder) -> None:
    prompt = body.get("prompt")
    if prompt is None:
        return
    if not isinstance(prompt, dict):
        raise InvalidRequest("prompt must be an object.", param="prompt")
    b.unscannable("prompt_template")
    variables = prompt.get("variables")
    if isinstance(variables, dict):
        for name, value in variables.items():
            _walk_strings(value, ("prompt", "variables", name), Source.USER, 0, b)


def _walk_tools(body: dict[str, Any], b: ConversationBuilder) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be an array.", param="tools")
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise InvalidRequest(f"tools[{k}] must be an object with a type.", param=f"tools[{k}]")
        kind = tool["type"]
        if kind in ("function", "custom"):
            name = tool.get("name")
            if not isinstance(name, str):
                raise InvalidRequest(f"tools[{k}].name is required.", param=f"tools[{k}].name")
            b.tools.append(name)
            if isinstance(tool.get("description"), str):
                b.segments.add(tool["description"], Source.SYSTEM, ("tools", k, "description"))
            b.add_schema_texts(tool.get("parameters"), ("tools", k, "parameters"))
        else:
            b.tools.append((tool_name(tool) or kind)[:64])
            b.unscannable("mcp_server_url" if tool.get("server_url") else "hosted_tool")
