"""Table tests for the request parsers: segments, provenance, marks, unscanned, refusals."""
# ruff: noqa: E501 -- the parametrize tables keep one case per line, like Presidio's tables.

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.errors import InvalidRequest
from bastion.model import Endpoint, Segment, Source
from bastion.model.conversation import Path
from bastion.wire.parse import parse_body
from bastion.wire.request import ParsedRequest, WireOptions
from bastion.wire.segments import retrieved_spans

CHAT, RESP, EMB = Endpoint.CHAT, Endpoint.RESPONSES, Endpoint.EMBEDDINGS
SYSTEM, USER, ASSISTANT = Source.SYSTEM, Source.USER, Source.ASSISTANT
TOOL, RETRIEVED, META = Source.TOOL_RESULT, Source.RETRIEVED, Source.METADATA
MODEL = "gpt-4o-mini"


def parse(body: dict[str, Any], endpoint: Endpoint = CHAT) -> ParsedRequest:
    return parse_body(json.dumps(body).encode(), endpoint, WireOptions())


def msg(role: str, content: Any = None, **extra: Any) -> dict[str, Any]:
    return {"role": role, **({} if content is None else {"content": content}), **extra}


def user(content: Any = "hi") -> dict[str, Any]:
    return msg("user", content)


def text(value: str, kind: str = "text") -> dict[str, Any]:
    return {"type": kind, kind: value}


def part(value: str, kind: str) -> dict[str, Any]:
    """A Responses content part (its text is always under ``text``)."""
    return {"type": kind, "text": value}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": list(messages or [user()]), **extra}


def responses(input_: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "input": input_, **extra}


def path_of(dotted: str) -> Path:
    """``"messages.0.content"`` → ``("messages", 0, "content")``."""
    return tuple(int(step) if step.isdigit() else step for step in dotted.split("."))


def value_at(body: Any, path: Path) -> Any:
    for step in path:
        body = body[step]
    return body


def refusal(raw: bytes, endpoint: Endpoint = CHAT) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_body(raw, endpoint, WireOptions())
    assert caught.value.status == 400
    return caught.value


def row(name: str, body: dict[str, Any], path: str, *expected: Any, on: Endpoint = CHAT) -> Any:
    return pytest.param(on, body, path_of(path), *expected, id=name)


SCHEMA = {"type": "object", "properties": {"city": {"type": "string", "description": "City"}}}
FN = {"name": "weather", "description": "Get weather", "parameters": SCHEMA}
CALL = {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"q":1}'}}
CUSTOM_CALL = {"id": "c", "type": "custom", "custom": {"name": "f", "input": "free text"}}
JSON_SCHEMA = {"name": "n", "description": "RF", "schema": SCHEMA}
TEXT_FORMAT = {
    "format": {"type": "json_schema", "name": "n", "description": "TF", "schema": SCHEMA}
}
PROPERTY = "properties.city.description"
SEGMENT_ROWS = [
    # Chat Completions: every text a model reads.
    row("chat-system", chat(msg("system", "S"), user()), "messages.0.content", SYSTEM, "S"),
    row("chat-developer", chat(msg("developer", "D")), "messages.0.content", SYSTEM, "D"),
    row("chat-user", chat(user("U")), "messages.0.content", USER, "U"),
    row("chat-assistant", chat(user(), msg("assistant", "A")), "messages.1.content", ASSISTANT, "A"),
    row("chat-tool", chat(msg("tool", "T", tool_call_id="c")), "messages.0.content", TOOL, "T"),
    row("chat-function", chat(msg("function", "F", name="f")), "messages.0.content", TOOL, "F"),
    row("chat-text-part", chat(user([text("P0"), text("P1")])), "messages.0.content.1.text", USER, "P1"),
    row("chat-refusal-part", chat(msg("assistant", [text("R", "refusal")])), "messages.0.content.0.refusal", ASSISTANT, "R"),
    row("chat-refusal-field", chat(msg("assistant", refusal="no")), "messages.0.refusal", ASSISTANT, "no"),
    row("chat-name", chat(msg("user", "x", name="alice")), "messages.0.name", USER, "alice"),
    row("chat-tool-call-args", chat(msg("assistant", tool_calls=[CALL])), "messages.0.tool_calls.0.function.arguments", ASSISTANT, '{"q":1}'),
    row("chat-legacy-function-call-args", chat(msg("assistant", function_call=CALL["function"])), "messages.0.function_call.arguments", ASSISTANT, '{"q":1}'),
    row("chat-tool-description", chat(tools=[{"type": "function", "function": FN}]), "tools.0.function.description", SYSTEM, "Get weather"),
    row("chat-tool-schema-description", chat(tools=[{"type": "function", "function": FN}]), f"tools.0.function.parameters.{PROPERTY}", SYSTEM, "City"),
    row("chat-legacy-functions", chat(functions=[FN]), "functions.0.description", SYSTEM, "Get weather"),
    row("chat-prediction-string", chat(prediction={"type": "content", "content": "PRED"}), "prediction.content", ASSISTANT, "PRED"),
    row("chat-prediction-parts", chat(prediction={"type": "content", "content": [text("PP")]}), "prediction.content.0.text", ASSISTANT, "PP"),
    row("chat-response-format-description", chat(response_format={"type": "json_schema", "json_schema": JSON_SCHEMA}), "response_format.json_schema.description", SYSTEM, "RF"),
    row("chat-response-format-schema", chat(response_format={"type": "json_schema", "json_schema": JSON_SCHEMA}), f"response_format.json_schema.schema.{PROPERTY}", SYSTEM, "City"),
    row("chat-metadata-value", chat(metadata={"ticket": "T-1"}), "metadata.ticket", META, "T-1"),
    row("chat-user-field", chat(user="end-user-7"), "user", META, "end-user-7"),
    row("chat-safety-identifier", chat(safety_identifier="sid"), "safety_identifier", META, "sid"),
    row("chat-stop-string", chat(stop="END"), "stop", META, "END"),
    row("chat-stop-list", chat(stop=["a", "END"]), "stop.1", META, "END"),
    # Responses.
    row("resp-string-input", responses("Q"), "input", USER, "Q", on=RESP),
    row("resp-message-string", responses([msg("system", "S")]), "input.0.content", SYSTEM, "S", on=RESP),
    row("resp-message-parts", responses([{"type": "message", **user([part("IT", "input_text")])}]), "input.0.content.0.text", USER, "IT", on=RESP),
    row("resp-assistant-output-text", responses([msg("assistant", [part("OT", "output_text")])]), "input.0.content.0.text", ASSISTANT, "OT", on=RESP),
    row("resp-function-call-args", responses([{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]), "input.0.arguments", ASSISTANT, "{}", on=RESP),
    row("resp-function-call-output", responses([{"type": "function_call_output", "call_id": "c", "output": "OUT"}]), "input.0.output", TOOL, "OUT", on=RESP),
    row("resp-function-call-output-parts", responses([{"type": "function_call_output", "call_id": "c", "output": [part("OP", "input_text")]}]), "input.0.output.0.text", TOOL, "OP", on=RESP),
    # What a hosted tool or MCP server returned is a tool result, whoever called it.
    row("resp-mcp-call-output", responses([{"type": "mcp_call", "id": "mcp_1", "server_label": "s", "name": "f", "arguments": "{}", "output": "MO"}]), "input.0.output", TOOL, "MO", on=RESP),
    row("resp-mcp-call-arguments", responses([{"type": "mcp_call", "id": "mcp_1", "server_label": "s", "name": "f", "arguments": "ARGS", "output": "MO"}]), "input.0.arguments", ASSISTANT, "ARGS", on=RESP),
    row("resp-mcp-list-tools-description", responses([{"type": "mcp_list_tools", "id": "ml", "server_label": "s", "tools": [{"name": "t", "description": "TD", "input_schema": {}}]}]), "input.0.tools.0.description", TOOL, "TD", on=RESP),
    row("resp-file-search-results", responses([{"type": "file_search_call", "id": "fs", "status": "completed", "queries": ["q"], "results": [{"file_id": "f", "text": "FR"}]}]), "input.0.results.0.text", TOOL, "FR", on=RESP),
    row("resp-file-search-queries", responses([{"type": "file_search_call", "id": "fs", "status": "completed", "queries": ["Q"]}]), "input.0.queries.0", ASSISTANT, "Q", on=RESP),
    row("resp-code-interpreter-logs", responses([{"type": "code_interpreter_call", "id": "ci", "status": "completed", "code": "c", "outputs": [{"type": "logs", "logs": "LOGS"}]}]), "input.0.outputs.0.logs", TOOL, "LOGS", on=RESP),
    row("resp-web-search-sources", responses([{"type": "web_search_call", "id": "ws", "status": "completed", "action": {"type": "search", "sources": [{"type": "url", "url": "https://x", "title": "WT"}]}}]), "input.0.action.sources.0.title", TOOL, "WT", on=RESP),
    row("resp-reasoning-summary", responses([{"type": "reasoning", "id": "rs", "summary": [part("why", "summary_text")]}]), "input.0.summary.0.text", ASSISTANT, "why", on=RESP),
    row("resp-instructions", responses(instructions="INS"), "instructions", SYSTEM, "INS", on=RESP),
    row("resp-text-format-description", responses(text=TEXT_FORMAT), "text.format.description", SYSTEM, "TF", on=RESP),
    row("resp-text-format-schema", responses(text=TEXT_FORMAT), f"text.format.schema.{PROPERTY}", SYSTEM, "City", on=RESP),
    row("resp-prompt-variable", {"model": MODEL, "prompt": {"id": "pmpt_1", "variables": {"topic": "VAR"}}}, "prompt.variables.topic", USER, "VAR", on=RESP),
    row("resp-tool-description", responses(tools=[{"type": "function", **FN}]), "tools.0.description", SYSTEM, "Get weather", on=RESP),
    row("resp-tool-schema-description", responses(tools=[{"type": "function", **FN}]), f"tools.0.parameters.{PROPERTY}", SYSTEM, "City", on=RESP),
    row("resp-metadata-value", responses(metadata={"k": "MV"}), "metadata.k", META, "MV", on=RESP),
    # Embeddings.
    row("emb-string", {"model": MODEL, "input": "E"}, "input", USER, "E", on=EMB),
    row("emb-list", {"model": MODEL, "input": ["E0", "E1"]}, "input.1", USER, "E1", on=EMB),
    # Texts the walkers do not know are forwarded too, so they are scanned as metadata.
    row("chat-custom-tool-call-input", chat(msg("assistant", tool_calls=[CUSTOM_CALL])), "messages.0.tool_calls.0.custom.input", ASSISTANT, "free text"),
    row("chat-unknown-message-key", chat(msg("user", "hi", note="N")), "messages.0.note", META, "N"),
    row("chat-unknown-part-key", chat(user([{**text("hi"), "note": "N"}])), "messages.0.content.0.note", META, "N"),
    row("chat-image-part-unknown-key", chat(user([{"type": "image_url", "image_url": {"url": "https://x/y.png", "note": "N"}}])), "messages.0.content.0.image_url.note", META, "N"),
    row("chat-tool-unknown-key", chat(tools=[{"type": "function", "function": {**FN, "note": "N"}}]), "tools.0.function.note", META, "N"),
    row("chat-hosted-tool-text", chat(tools=[{"type": "custom", "custom": {"name": "c", "description": "CD"}}]), "tools.0.custom.description", META, "CD"),
    row("chat-schema-default", chat(response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "string", "default": "DEF"}}}), "response_format.json_schema.schema.default", META, "DEF"),
    row("chat-tool-choice-object", chat(tool_choice={"type": "function", "function": {"name": "f"}, "note": "N"}), "tool_choice.note", META, "N"),
    row("chat-web-search-location", chat(web_search_options={"user_location": {"type": "approximate", "approximate": {"city": "Leeds"}}}), "web_search_options.user_location.approximate.city", META, "Leeds"),
    row("chat-prediction-part-unknown-key", chat(prediction={"type": "content", "content": [{"type": "text", "txt": "P"}]}), "prediction.content.0.txt", META, "P"),
    row("resp-message-unknown-key", responses([{"type": "message", "role": "user", "content": "hi", "note": "N"}]), "input.0.note", META, "N", on=RESP),
    row("resp-text-part-unknown-key", responses([user([{**part("hi", "input_text"), "note": "N"}])]), "input.0.content.0.note", META, "N", on=RESP),
    row("resp-function-call-output-unknown-key", responses([{"type": "function_call_output", "call_id": "c", "output": "o", "note": "N"}]), "input.0.note", META, "N", on=RESP),
    row("resp-custom-tool-grammar", responses(tools=[{"type": "custom", "name": "g", "format": {"type": "grammar", "syntax": "lark", "definition": "GD"}}]), "tools.0.format.definition", META, "GD", on=RESP),
    row("chat-required-not-naming-properties", chat(tools=[{"type": "function", "function": {**FN, "parameters": {**SCHEMA, "required": ["city", "RQ"]}}}]), "tools.0.function.parameters.required.1", META, "RQ"),
    row("resp-tool-choice-object", responses(tool_choice={"type": "function", "name": "f", "note": "N"}), "tool_choice.note", META, "N", on=RESP),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body", "path", "source", "text"), SEGMENT_ROWS)
def test_text_becomes_a_segment(
    endpoint: Endpoint, body: dict[str, Any], path: Path, source: Source, text: str
) -> None:
    parsed = parse(body, endpoint)
    found = [s for s in parsed.conversation.segments if s.path == path]
    assert [(s.text, s.source, s.start, s.end) for s in found] == [(text, source, 0, len(text))]
    assert value_at(parsed.body, path) == text


def test_identifiers_are_listed_as_names_not_as_text() -> None:
    """Ids, call ids and function names are not text segments (nothing there to rewrite);
    they are listed in the names segment (tests/wire/test_wire_names.py)."""
    item = {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "f", "arguments": "{}"}
    segments = parse(responses([item]), RESP).conversation.segments
    assert [s.path for s in segments if not s.names] == [("input", 0, "arguments")]
    assert [s.text for s in segments if s.names] == ["c\nf\nfc_1"]


def not_text(name: str, body: dict[str, Any], *values: str, on: Endpoint = CHAT) -> Any:
    return pytest.param(on, body, values, id=name)


NOT_TEXT_ROWS = [
    not_text("chat-ids-names-enums", chat(user("hi"), msg("assistant", tool_calls=[CALL]), msg("tool", "ok", tool_call_id="c"), tool_choice="auto", service_tier="flex"), "c", "f", "function", "assistant", "tool", "auto", "flex", MODEL),
    not_text("chat-schema-required-names", chat(tools=[{"type": "function", "function": {**FN, "parameters": {**SCHEMA, "required": ["city"]}}}]), "city", "object", "string"),
    not_text("resp-include-enums", responses(include=["reasoning.encrypted_content"], truncation="auto"), "reasoning.encrypted_content", "auto", on=RESP),
    not_text("chat-image-url", chat(user([{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}])), "data:image/png;base64,iVBORw0KGgo="),
    not_text("chat-audio-data", chat(user([{"type": "input_audio", "input_audio": {"data": "UklGRg=="}}])), "UklGRg=="),
    not_text("chat-file-data", chat(user([{"type": "file", "file": {"file_data": "JVBERi0=", "filename": "a.pdf", "file_id": "file-1"}}])), "JVBERi0=", "a.pdf", "file-1"),
    not_text("resp-image-url", responses([user([{"type": "input_image", "image_url": "https://x/y.png", "file_id": "file-1"}])]), "https://x/y.png", "file-1", on=RESP),
    not_text("resp-file-data", responses([user([{"type": "input_file", "file_data": "JVBERi0=", "file_url": "https://x/a.pdf", "filename": "a.pdf"}])]), "JVBERi0=", "https://x/a.pdf", "a.pdf", on=RESP),
    not_text("resp-encrypted-reasoning", responses([{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"}]), "rs_1", "gAAAA", on=RESP),
    not_text("resp-mcp-credentials", responses(tools=[{"type": "mcp", "server_label": "s", "server_url": "https://mcp.example", "authorization": "tok1", "headers": {"X-Key": "tok2"}}]), "tok1", "tok2", on=RESP),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body", "values"), NOT_TEXT_ROWS)
def test_identifiers_enums_and_unreadable_payloads_are_not_swept(
    endpoint: Endpoint, body: dict[str, Any], values: tuple[str, ...]
) -> None:
    """The sweep leaves ids, names, roles and unscannable payloads (listed unscanned) out
    of the text segments (ids and names are listed in the names segment instead)."""
    texts = {s.text for s in parse(body, endpoint).conversation.segments if not s.names}
    assert texts.isdisjoint(values)


def test_tool_names_are_listed() -> None:
    conversation = parse(chat(tools=[{"type": "function", "function": FN}])).conversation
    assert conversation.tools == ("weather",)


# ---- <retrieved> spans and untrusted marks ---------------------------------------------------


def spans(segments: tuple[Segment, ...]) -> list[tuple[str, Source, int, int | None]]:
    return [(s.text, s.source, s.start, s.end) for s in segments]


def test_retrieved_span_is_split_with_offsets() -> None:
    found = spans(parse(chat(user("Sum: <retrieved>é doc</retrieved>!"))).conversation.segments)
    assert found == [
        ("Sum: <retrieved>", USER, 0, 16),
        ("é doc", RETRIEVED, 16, 21),
        ("</retrieved>!", USER, 21, 34),
    ]


def test_retrieved_span_in_a_tool_result_keeps_tool_provenance_outside() -> None:
    body = chat(msg("tool", "r: <retrieved>x</retrieved>", tool_call_id="c"))
    segments = parse(body).conversation.segments
    assert [s.source for s in segments if not s.names] == [TOOL, RETRIEVED, TOOL]


def test_retrieved_tags_are_configurable() -> None:
    raw = json.dumps(chat(user("a <ctx>b</ctx> <retrieved>c</retrieved>"))).encode()
    segments = parse_body(raw, CHAT, WireOptions(retrieved_tags=("ctx",))).conversation.segments
    assert [s.text for s in segments if s.source is RETRIEVED] == ["b"]


def test_two_retrieved_spans_in_one_string() -> None:
    body = chat(user("<retrieved>a</retrieved>-<retrieved>b</retrieved>"))
    retrieved = [s for s in parse(body).conversation.segments if s.source is RETRIEVED]
    assert [(s.text, s.start) for s in retrieved] == [("a", 11), ("b", 36)]


RETRIEVED_SPAN_ROWS = [
    pytest.param("<retrieved>a</retrieved>", ("retrieved",), [(11, 12)], id="one"),
    pytest.param("<retrieved></retrieved>", ("retrieved",), [(11, 11)], id="empty-body"),
    pytest.param("<retrieved>a<retrieved>b</retrieved>", ("retrieved",), [(11, 24)], id="no-nesting"),
    pytest.param("<retrieved>a", ("retrieved",), [], id="never-closed"),
    pytest.param("<ctx>a<doc>b</ctx>c</doc>", ("doc", "ctx"), [(5, 12)], id="leftmost-tag-wins"),
    pytest.param("<doc>x<ctx>y</ctx>z", ("doc", "ctx"), [(11, 12)], id="unclosed-then-other-tag"),
    pytest.param("</retrieved><retrieved>a</retrieved>", ("retrieved",), [(23, 24)], id="closing-first"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "tags", "expected"), RETRIEVED_SPAN_ROWS)
def test_retrieved_spans(text: str, tags: tuple[str, ...], expected: list[tuple[int, int]]) -> None:
    assert retrieved_spans(text, tags) == expected


def mark_row(name: str, body: dict[str, Any], marks: list[Any], path: str, *spans: Any) -> Any:
    return pytest.param(body, marks, path_of(path), list(spans), id=name)


MARK_ROWS = [
    mark_row("whole-message", chat(user("x"), user("hello")), [{"message": 1}], "messages.1.content", ("hello", RETRIEVED, 0, 5)),
    mark_row("part", chat(user([text("a"), text("bc")])), [{"message": 0, "part": 1}], "messages.0.content.1.text", ("bc", RETRIEVED, 0, 2)),
    mark_row("range-code-points", chat(user("héllo wörld")), [{"message": 0, "range": [6, 11]}], "messages.0.content", ("héllo ", USER, 0, 6), ("wörld", RETRIEVED, 6, 11)),
    mark_row("part-and-range", chat(user([text("abcdef")])), [{"message": 0, "part": 0, "range": [1, 3]}], "messages.0.content.0.text", ("a", USER, 0, 1), ("bc", RETRIEVED, 1, 3), ("def", USER, 3, 6)),
    mark_row("overlaps-retrieved-tag", chat(user("ab<retrieved>cd</retrieved>")), [{"message": 0, "range": [0, 1]}], "messages.0.content", ("a", RETRIEVED, 0, 1), ("b<retrieved>", USER, 1, 13), ("cd", RETRIEVED, 13, 15), ("</retrieved>", USER, 15, 27)),
]  # fmt: skip


@pytest.mark.parametrize(("body", "marks", "path", "expected"), MARK_ROWS)
def test_untrusted_marks(
    body: dict[str, Any], marks: list[dict[str, Any]], path: Path, expected: list[Any]
) -> None:
    conversation = parse({**body, "bastion": {"untrusted": marks}}).conversation
    assert spans(tuple(s for s in conversation.segments if s.path == path)) == expected
    assert conversation.untrusted_marks == len(marks)


def test_untrusted_mark_on_responses_string_input_is_item_zero() -> None:
    body = responses("abcd", bastion={"untrusted": [{"message": 0, "range": [2, 4]}]})
    assert spans(parse(body, RESP).conversation.segments)[-1] == ("cd", RETRIEVED, 2, 4)


def test_untrusted_mark_on_function_call_output() -> None:
    item = {"type": "function_call_output", "call_id": "c", "output": "abc"}
    body = responses([user("q"), item], bastion={"untrusted": [{"message": 1, "range": [1, 2]}]})
    segments = tuple(s for s in parse(body, RESP).conversation.segments if not s.names)
    assert spans(segments)[1:] == [("a", TOOL, 0, 1), ("b", RETRIEVED, 1, 2), ("c", TOOL, 2, 3)]


BAD_MARK_ROWS = [
    pytest.param(chat(user("hi")), [{"message": 0}, {"message": 5}], "bastion.untrusted[1]", id="message-out-of-range"),
    pytest.param(chat(user([text("a")])), [{"message": 0, "part": 3}], "bastion.untrusted[0]", id="part-out-of-range"),
    pytest.param(chat(user("hello")), [{"message": 0, "range": [0, 6]}], "bastion.untrusted[0]", id="range-past-end"),
    pytest.param(chat(user("hello")), [{"message": 0, "range": [3, 1]}], "bastion.untrusted[0]", id="range-reversed"),
    pytest.param(chat(user("hello")), [{"message": 0, "part": 0}], "bastion.untrusted[0]", id="part-on-string-content"),
    pytest.param(chat(user("hello")), [{"message": -1}], "bastion.untrusted[0]", id="negative-message"),
    pytest.param(chat(user("hello")), [{"message": 0, "role": "user"}], "bastion.untrusted[0]", id="unknown-key"),
    pytest.param(responses("hi"), [{"message": 1}], "bastion.untrusted[0]", id="responses-item-out-of-range"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "marks", "param"), BAD_MARK_ROWS)
def test_bad_untrusted_mark_is_refused(
    body: dict[str, Any], marks: list[dict[str, Any]], param: str
) -> None:
    endpoint = RESP if "input" in body else CHAT
    error = refusal(json.dumps({**body, "bastion": {"untrusted": marks}}).encode(), endpoint)
    assert (error.code, error.param) == ("invalid_value", param)


# ---- content Bastion cannot read -------------------------------------------------------------

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
MCP = {"type": "mcp", "server_label": "s", "server_url": "https://mcp.example"}
UNSCANNED_ROWS = [
    pytest.param(CHAT, chat(user([text("see"), IMAGE])), "image", id="chat-image-part"),
    pytest.param(CHAT, chat(user([AUDIO])), "audio", id="chat-audio-part"),
    pytest.param(CHAT, chat(user([{"type": "file", "file": {"file_id": "file-1"}}])), "file", id="chat-file-part"),
    pytest.param(CHAT, chat(tools=[{"type": "custom", "custom": {"name": "c"}}]), "hosted_tool", id="chat-hosted-tool"),
    pytest.param(CHAT, chat(user("say it"), modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"}), "audio_output", id="chat-audio-answer"),
    pytest.param(CHAT, chat(user("say it"), modalities=["audio", "text"]), "audio_output", id="chat-audio-modality"),
    pytest.param(CHAT, chat(user("hi"), msg("assistant", audio={"id": "audio_1"}), user("again")), "audio", id="chat-earlier-audio-answer"),
    pytest.param(RESP, responses([user([{"type": "input_image", "image_url": "https://x/y.png"}])]), "image", id="resp-image-part"),
    pytest.param(RESP, responses([user([{"type": "input_file", "file_id": "file-1"}])]), "file", id="resp-file-part"),
    pytest.param(RESP, responses(previous_response_id="resp_1"), "previous_response_id", id="resp-previous-response-id"),
    pytest.param(RESP, responses(conversation="conv_1"), "conversation", id="resp-conversation"),
    pytest.param(RESP, responses(tools=[{"type": "web_search"}]), "hosted_tool", id="resp-hosted-tool"),
    pytest.param(RESP, responses(tools=[MCP]), "mcp_server_url", id="resp-mcp-server-url"),
    pytest.param(RESP, responses([{"type": "item_reference", "id": "msg_1"}]), "item_reference", id="resp-item-reference"),
    pytest.param(RESP, {"model": MODEL, "prompt": {"id": "pmpt_1"}}, "prompt_template", id="resp-prompt-template"),
    pytest.param(EMB, {"model": MODEL, "input": [1, 2, 3]}, "token_array", id="emb-token-array"),
    pytest.param(EMB, {"model": MODEL, "input": [[1, 2], [3]]}, "token_array", id="emb-token-arrays"),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body", "reason"), UNSCANNED_ROWS)
def test_unreadable_content_is_listed(
    endpoint: Endpoint, body: dict[str, Any], reason: str
) -> None:
    assert reason in parse(body, endpoint).conversation.unscanned


def test_readable_request_has_nothing_unscanned() -> None:
    assert parse(chat(user([text("a")]))).conversation.unscanned == ()


def test_unscanned_reasons_are_listed_once() -> None:
    conversation = parse(chat(user([IMAGE, IMAGE, text("x")]))).conversation
    assert conversation.unscanned == ("image",)


# ---- the reserved bastion object ---------------------------------------------------------------


def test_bastion_object_is_stripped_and_read() -> None:
    extension = {"untrusted": [{"message": 0}], "exception": "exc_123", "end_user": "u-9"}
    parsed = parse(chat(user("hi"), bastion=extension))
    assert parsed.body == chat(user("hi"))
    assert (parsed.conversation.exception_id, parsed.conversation.end_user) == ("exc_123", "u-9")
    assert parsed.extension.exception == "exc_123"


BAD_EXTENSION_ROWS = [
    pytest.param(["x"], "invalid_value", "bastion", id="not-an-object"),
    pytest.param({"policy": "off"}, "unsupported_parameter", "bastion.policy", id="unknown-key"),
    pytest.param({"exception": ""}, "invalid_value", "bastion.exception", id="empty-exception"),
    pytest.param({"end_user": "a\r\nx-admin: 1"}, "invalid_value", "bastion.end_user", id="crlf"),
    pytest.param(
        {"untrusted": {"message": 0}}, "invalid_value", "bastion.untrusted", id="not-list"
    ),
]


@pytest.mark.parametrize(("extension", "code", "param"), BAD_EXTENSION_ROWS)
def test_bad_bastion_object_is_refused(extension: Any, code: str, param: str) -> None:
    error = refusal(json.dumps(chat(bastion=extension)).encode())
    assert (error.code, error.param) == (code, param)


# ---- input the parser must refuse cleanly (RELIABILITY.md) ---------------------------------------

MSG = b'"messages":[{"role":"user","content":"hi"}]'


def with_chat(extra: bytes) -> bytes:
    """A valid raw chat body with ``extra`` (``,"field":value``) appended."""
    return b'{"model":"m",' + MSG + extra + b"}"


def with_message(content: bytes) -> bytes:
    """A raw chat body whose one user message has ``content`` (raw JSON)."""
    return b'{"model":"m","messages":[{"role":"user","content":' + content + b"}]}"


def bad(name: str, raw: bytes, code: str, param: str | None, on: Endpoint = CHAT) -> Any:
    return pytest.param(on, raw, code, param, id=name)


INVALID, UNSUPPORTED, JSON = "invalid_value", "unsupported_parameter", "invalid_json"
REFUSAL_ROWS = [
    bad("empty-messages", b'{"model":"m","messages":[]}', INVALID, "messages"),
    bad("missing-messages", b'{"model":"m"}', INVALID, "messages"),
    bad("oversized-messages", json.dumps(chat(*[user()] * 10_001)).encode(), INVALID, "messages"),
    bad("absurd-n", with_chat(b',"n":100000'), INVALID, "n"),
    bad("absurd-max-tokens", with_chat(b',"max_tokens":999999999'), INVALID, "max_tokens"),
    bad("zero-max-completion-tokens", with_chat(b',"max_completion_tokens":0'), INVALID, "max_completion_tokens"),
    bad("overflowing-temperature", with_chat(b',"temperature":1e400'), JSON, None),
    bad("string-n", with_chat(b',"n":"2"'), INVALID, "n"),
    bad("fractional-n", with_chat(b',"n":2.5'), INVALID, "n"),
    bad("tool-choice-number", with_chat(b',"tool_choice":5'), INVALID, "tool_choice"),
    bad("tool-choice-unknown-word", with_chat(b',"tool_choice":"always"'), INVALID, "tool_choice"),
    bad("tool-choice-object-without-type", with_chat(b',"tool_choice":{"function":{"name":"f"}}'), INVALID, "tool_choice"),
    bad("response-format-unknown-type", with_chat(b',"response_format":{"type":"xml"}'), INVALID, "response_format"),
    bad("response-format-string", with_chat(b',"response_format":"json"'), INVALID, "response_format"),
    bad("stream-options-not-booleans", with_chat(b',"stream":true,"stream_options":{"include_usage":"y"}'), INVALID, "stream_options"),
    bad("stream-options-without-stream", with_chat(b',"stream_options":{"include_usage":true}'), INVALID, "stream_options"),
    bad("stream-options-with-stream-false", with_chat(b',"stream":false,"stream_options":{"include_usage":true}'), INVALID, "stream_options"),
    bad("logit-bias-word-key", with_chat(b',"logit_bias":{"hello":1}'), INVALID, "logit_bias"),
    bad("logit-bias-out-of-range", with_chat(b',"logit_bias":{"50256":-101}'), INVALID, "logit_bias"),
    bad("resp-tool-choice-unknown-word", b'{"model":"m","input":"x","tool_choice":"sometimes"}', INVALID, "tool_choice", on=RESP),
    bad("emb-unknown-encoding-format", b'{"model":"m","input":"x","encoding_format":"hex"}', INVALID, "encoding_format", on=EMB),
    bad("fractional-max-tokens", with_chat(b',"max_tokens":1.5'), INVALID, "max_tokens"),
    bad("fractional-seed", with_chat(b',"seed":7.25'), INVALID, "seed"),
    bad("resp-fractional-max-output-tokens", b'{"model":"m","input":"x","max_output_tokens":16.5}', INVALID, "max_output_tokens", on=RESP),
    bad("emb-fractional-dimensions", b'{"model":"m","input":"x","dimensions":3.5}', INVALID, "dimensions", on=EMB),
    bad("stream-as-string", with_chat(b',"stream":"yes"'), INVALID, "stream"),
    bad("unknown-field", with_chat(b',"tempurature":1'), UNSUPPORTED, "tempurature"),
    bad("missing-model", b"{" + MSG + b"}", INVALID, "model"),
    bad("bad-role", b'{"model":"m","messages":[{"role":"root","content":"x"}]}', INVALID, "messages[0].role"),
    bad("bad-part-type", with_message(b'[{"type":"video"}]'), INVALID, "messages[0].content[0].type"),
    bad("part-without-text", with_message(b'[{"type":"text"}]'), INVALID, "messages[0].content[0].text"),
    bad("tool-calls-not-array", b'{"model":"m","messages":[{"role":"assistant","tool_calls":1.5}]}', INVALID, "messages[0].tool_calls"),
    bad("tool-call-not-object", b'{"model":"m","messages":[{"role":"assistant","tool_calls":["call"]}]}', INVALID, "messages[0].tool_calls[0]"),
    bad("metadata-not-strings", with_chat(b',"metadata":{"a":1}'), INVALID, "metadata"),
    bad("stop-not-strings", with_chat(b',"stop":[1]'), INVALID, "stop"),
    bad("user-not-string", with_chat(b',"user":5'), INVALID, "user"),
    bad("duplicate-keys", b'{"model":"m","model":"n",' + MSG + b"}", JSON, None),
    bad("huge-integer", with_chat(b',"seed":123456789012345678901234567890'), JSON, None),
    bad("deep-nesting", with_chat(b',"metadata":' + b'{"a":' * 80 + b'"x"' + b"}" * 80), JSON, None),
    bad("pathological-nesting", b"[" * 200_000 + b"]" * 200_000, JSON, None),
    bad("nan", with_chat(b',"temperature":NaN'), JSON, None),
    bad("infinity", with_chat(b',"temperature":-Infinity'), JSON, None),
    bad("invalid-utf8", with_message(b'"\xff\xfe"'), JSON, None),
    bad("lone-high-surrogate", with_message(b'"a\\ud800b"'), JSON, None),
    bad("lone-low-surrogate-in-key", with_chat(b',"metadata":{"\\udc00":"x"}'), JSON, None),
    bad("non-object-array", b'[{"model":"m"}]', JSON, None),
    bad("non-object-string", b'"hello"', JSON, None),
    bad("empty-body", b"", JSON, None),
    bad("truncated-json", b'{"model":"m",', JSON, None),
    bad("resp-missing-input", b'{"model":"m"}', INVALID, "input", on=RESP),
    bad("resp-too-many-items", json.dumps(responses([user("x")] * 10_001)).encode(), INVALID, "input", on=RESP),
    bad("resp-negative-max-output-tokens", b'{"model":"m","input":"x","max_output_tokens":-5}', INVALID, "max_output_tokens", on=RESP),
    bad("resp-item-not-object", b'{"model":"m","input":["x"]}', INVALID, "input[0]", on=RESP),
    bad("resp-instructions-not-string", b'{"model":"m","input":"x","instructions":[1]}', INVALID, "instructions", on=RESP),
    bad("emb-empty-input", b'{"model":"m","input":[]}', INVALID, "input", on=EMB),
    bad("emb-stream", b'{"model":"m","input":"x","stream":true}', UNSUPPORTED, "stream", on=EMB),
    bad("emb-too-many-inputs", json.dumps({"model": "m", "input": ["x"] * 2049}).encode(), INVALID, "input", on=EMB),
    bad("emb-chat-only-field", b'{"model":"m","input":"x","temperature":1}', UNSUPPORTED, "temperature", on=EMB),
    bad("emb-token-then-string", b'{"model":"m","input":[1,"aws_secret_access_key=x"]}', INVALID, "input[0]", on=EMB),
    bad("emb-token-then-token-array", b'{"model":"m","input":[1,[2]]}', INVALID, "input[0]", on=EMB),
    bad("emb-negative-token", b'{"model":"m","input":[-1]}', INVALID, "input[0]", on=EMB),
    bad("emb-boolean-token", b'{"model":"m","input":[[1,true]]}', INVALID, "input[0]", on=EMB),
    bad("emb-empty-token-array", b'{"model":"m","input":[[]]}', INVALID, "input[0]", on=EMB),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "raw", "code", "param"), REFUSAL_ROWS)
def test_bad_input_is_refused_with_400(
    endpoint: Endpoint, raw: bytes, code: str, param: str | None
) -> None:
    error = refusal(raw, endpoint)
    assert (error.error_type, error.code, error.param) == ("invalid_request_error", code, param)


@pytest.mark.parametrize(
    "item_type",
    [
        pytest.param(None, id="null-type"),
        pytest.param(5, id="integer-type"),
        pytest.param(["message"], id="list-type"),
    ],
)
def test_responses_item_with_non_string_type_is_refused(item_type: Any) -> None:
    error = refusal(json.dumps(responses([{"type": item_type, "x": "y"}])).encode(), RESP)
    assert error.param is not None and error.param.startswith("input[0]")


def test_number_overflowing_a_double_is_refused() -> None:
    error = refusal(with_chat(b',"logit_bias":{"50256":1e400}'))
    assert error.code == "invalid_json"


def test_valid_surrogate_pair_and_escaped_backslash_are_accepted() -> None:
    raw = b'{"model":"m","messages":[{"role":"user","content":"\\ud83d\\ude00 \\\\ud800"}]}'
    assert parse_body(raw, CHAT, WireOptions()).conversation.segments[0].text == "😀 \\ud800"


def test_extra_passthrough_field_is_accepted() -> None:
    raw = json.dumps(chat(user(), vendor_flag=True)).encode()
    parsed = parse_body(raw, CHAT, WireOptions(extra_passthrough=frozenset({"vendor_flag"})))
    assert parsed.body["vendor_flag"] is True


# ---- property: segments are exact slices that tile their string -------------------------------

TAGGED_TEXT = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(["<retrieved>", "</retrieved>", "<", ">"])),
    max_size=8,
).map("".join)
PART = st.builds(lambda t: {"type": "text", "text": t}, TAGGED_TEXT)
MESSAGE = st.builds(
    lambda role, content: {"role": role, "content": content},
    st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
    st.one_of(TAGGED_TEXT, st.lists(PART, min_size=1, max_size=3)),
)


@st.composite
def chat_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A chat body with random texts, and untrusted ranges on some string contents."""
    messages = draw(st.lists(MESSAGE, min_size=1, max_size=4))
    marks = []
    for i, message in enumerate(messages):
        content = message["content"]
        if isinstance(content, str) and len(content) >= 1 and draw(st.booleans()):
            start = draw(st.integers(0, len(content) - 1))
            end = draw(st.integers(start + 1, len(content)))
            marks.append({"message": i, "range": [start, end]})
    body = chat(*messages)
    if marks:
        body["bastion"] = {"untrusted": marks}
    return body


@settings(max_examples=150, deadline=None)
@given(chat_bodies())
def test_segments_are_exact_slices_that_tile_each_string(body: dict[str, Any]) -> None:
    parsed = parse(body)
    by_path: dict[Path, list[Segment]] = {}
    for segment in parsed.conversation.segments:
        original = value_at(parsed.body, segment.path)
        assert segment.text == original[segment.start : segment.end]
        by_path.setdefault(segment.path, []).append(segment)
    for path, segments in by_path.items():
        original = value_at(parsed.body, path)
        ordered = sorted(segments, key=lambda s: s.start)
        assert ordered[0].start == 0 and ordered[-1].end == len(original)
        assert all(a.end == b.start for a, b in itertools.pairwise(ordered))
    texts = [m["content"] for m in body["messages"] if isinstance(m["content"], str)]
    texts += [
        p["text"] for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]
    ]
    assert sum(len(s.text) for s in parsed.conversation.segments) == sum(map(len, texts))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_tokens", 0, "max_tokens must be between 1 and 1000000."),
        (
            "max_completion_tokens",
            2_000_000,
            "max_completion_tokens must be between 1 and 1000000.",
        ),
        ("temperature", 2.5, "temperature must be between 0 and 2."),
    ],
)
def test_an_out_of_range_number_names_its_bounds_in_full(
    field: str, value: float, message: str
) -> None:
    refused = refusal(json.dumps(chat(**{field: value})).encode())
    assert (refused.param, refused.message) == (field, message)
