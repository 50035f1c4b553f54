"""Chat Completions requests → segments (messages, parts, tool calls, tools, prediction)."""

from __future__ import annotations

from typing import Any

from bastion.errors import InvalidRequest
from bastion.model import Source
from bastion.model.controls import tool_name
from bastion.wire.request import ConversationBuilder

MAX_MESSAGES = 10_000

ROLE_SOURCE = {
    "system": Source.SYSTEM,
    "developer": Source.SYSTEM,
    "user": Source.USER,
    "assistant": Source.ASSISTANT,
    "tool": Source.TOOL_RESULT,
    "function": Source.TOOL_RESULT,
}
_UNREADABLE_PARTS = {"image_url": "image", "input_audio": "audio", "file": "file"}


def walk_chat(body: dict[str, Any], b: ConversationBuilder) -> None:
    """Collect every text of a chat completions body, with its provenance and place."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty array.", param="messages")
    if len(messages) > MAX_MESSAGES:
        raise InvalidRequest(
            f"messages has {len(messages)} items; at most {MAX_MESSAGES} are accepted.",
            param="messages",
        )
    for i, message in enumerate(messages):
        _walk_message(message, i, b)
    _walk_tools(body, b)
    _walk_prediction(body, b)
    modalities = body.get("modalities")
    if body.get("audio") is not None or (isinstance(modalities, list) and "audio" in modalities):
        b.unscannable("audio_output")  # spoken answers: output rules cannot read them
    _walk_response_format(body, b)
    stop = body.get("stop")
    if isinstance(stop, str):
        b.segments.add(stop, Source.METADATA, ("stop",))
    elif isinstance(stop, list):
        for j, item in enumerate(stop):
            if not isinstance(item, str):
                raise InvalidRequest("stop must be a string or an array of strings.", param="stop")
            b.segments.add(item, Source.METADATA, ("stop", j))
    elif stop is not None:
        raise InvalidRequest("stop must be a string or an array of strings.", param="stop")


def _walk_message(message: Any, i: int, b: ConversationBuilder) -> None:
    # the error messages' f"messages[{i}]" is built only for an error (it is per message)
    if not isinstance(message, dict):
        raise InvalidRequest(f"messages[{i}] must be an object.", param=f"messages[{i}]")
    role = message.get("role")
    source = ROLE_SOURCE.get(role) if isinstance(role, str) else None
    if source is None or not isinstance(role, str):
        raise InvalidRequest(
            f"messages[{i}].role must be one of system, developer, user, assistant, tool.",
            param=f"messages[{i}].role",
        )
    content = message.get("content")
    if isinstance(content, str):
        b.add_message_text(content, source, ("messages", i, "content"), message=i, role=role)
    elif isinstance(content, list):
        for j, part in enumerate(content):
            _walk_part(part, i, j, source, role, b)
    elif content is not None:
        raise InvalidRequest(
            f"messages[{i}].content must be a string or an array of content parts.",
            param=f"messages[{i}].content",
        )
    name = message.get("name")
    if isinstance(name, str):
        b.segments.add(name, source, ("messages", i, "name"), message_index=i, role=role)
    if message.get("audio") is not None:
        b.unscannable("audio")  # an earlier spoken answer, kept by the provider by id
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        b.segments.add(refusal, source, ("messages", i, "refusal"), message_index=i, role=role)
    _walk_tool_calls(message, i, b)


def _walk_part(
    part: Any,
    i: int,
    j: int,
    source: Source,
    role: str,
    b: ConversationBuilder,
) -> None:
    param = f"messages[{i}].content[{j}]"
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise InvalidRequest(f"{param} must be a content part with a type.", param=param)
    kind = part["type"]
    if kind in ("text", "refusal"):
        text = part.get(kind)
        if not isinstance(text, str):
            raise InvalidRequest(f"{param}.{kind} must be a string.", param=f"{param}.{kind}")
        path = ("messages", i, "content", j, kind)
        b.add_message_text(text, source, path, message=i, part=j, role=role)
    elif kind in _UNREADABLE_PARTS:
        b.unscannable(_UNREADABLE_PARTS[kind])
    else:
        raise InvalidRequest(f"{param}.type {kind[:32]!r} is not supported.", param=f"{param}.type")


def _walk_tool_calls(message: dict[str, Any], i: int, b: ConversationBuilder) -> None:
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        param = f"messages[{i}].tool_calls"
        raise InvalidRequest(f"{param} must be an array of tool calls.", param=param)
    if isinstance(calls, list):
        for k, call in enumerate(calls):
            if not isinstance(call, dict):
                param = f"messages[{i}].tool_calls[{k}]"
                raise InvalidRequest(f"{param} must be a tool call object.", param=param)
            # a function call's JSON arguments, or a custom tool call's free-text input
            for kind, field in (("function", "arguments"), ("custom", "input")):
                inner = call.get(kind)
                if isinstance(inner, dict) and isinstance(inner.get(field), str):
                    path = ("messages", i, "tool_calls", k, kind, field)
                    b.segments.add(
                        inner[field], Source.ASSISTANT, path, message_index=i, role="assistant"
                    )
    legacy = message.get("function_call")
    if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
        legacy_path = ("messages", i, "function_call", "arguments")
        b.segments.add(
            legacy["arguments"], Source.ASSISTANT, legacy_path, message_index=i, role="assistant"
        )


def _walk_tools(body: dict[str, Any], b: ConversationBuilder) -> None:
    for field in ("tools", "functions"):
        tools = body.get(field)
        if tools is None:
            continue
        if not isinstance(tools, list):
            raise InvalidRequest(f"{field} must be an array.", param=field)
        for k, tool in enumerate(tools):
            fn = tool.get("function", tool) if isinstance(tool, dict) else None
            if (
                field == "tools"
                and isinstance(tool, dict)
                and tool.get("type") not in (None, "function")
            ):
                b.unscannable("hosted_tool")
                b.tools.append((tool_name(tool) or str(tool.get("type")))[:64])
                continue
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise InvalidRequest(f"{field}[{k}] must name a function.", param=f"{field}[{k}]")
            b.tools.append(fn["name"])
            base: tuple[str | int, ...] = (field, k, "function") if field == "tools" else (field, k)
            if isinstance(fn.get("description"), str):
                b.segments.add(fn["description"], Source.SYSTEM, (*base, "description"))
            b.add_schema_texts(fn.get("parameters"), (*base, "parameters"))


def _walk_prediction(body: dict[str, Any], b: ConversationBuilder) -> None:
    prediction = body.get("prediction")
    if not isinstance(prediction, dict):
        return
    content = prediction.get("content")
    if isinstance(content, str):
        b.segments.add(content, Source.ASSISTANT, ("prediction", "content"))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                b.segments.add(part["text"], Source.ASSISTANT, ("prediction", "content", j, "text"))


def _walk_response_format(body: dict[str, Any], b: ConversationBuilder) -> None:
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and isinstance(fmt.get("json_schema"), dict):
        schema = fmt["json_schema"]
        if isinstance(schema.get("description"), str):
            path = ("response_format", "json_schema", "description")
            b.segments.add(schema["description"], Source.SYSTEM, path)
        b.add_schema_texts(schema.get("schema"), ("response_format", "json_schema", "schema"))
