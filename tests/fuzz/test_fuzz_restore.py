"""Fuzz: pseudonymise, then restore. Text with planted values at arbitrary places is
inspected and pseudonymised; a model that echoes the redacted text back — whole, or
streamed in chunks cut anywhere, even inside a placeholder — gives the caller back the
original text exactly, and the values never reached the upstream body."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator

import orjson
from hypothesis import given
from hypothesis import strategies as st

from bastion.crypto.keyring import Keyring
from bastion.detect.catalog import build_scanner
from bastion.detect.inspector import DetectorInspector
from bastion.model import Decision, Endpoint
from bastion.model.decision import Action
from bastion.pipeline.response import restore_answer
from bastion.pipeline.stream import StreamRelay
from bastion.pipeline.stream_hooks import ReplaceTextHook
from bastion.transform.redact import Redactor
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions
from bastion.wire.sse import SseParser
from tests.fuzz.budget import fuzz

VALUES = {
    "pii.email": ["lee.ortiz@contoso-example.com", "ann@northwind.example.org"],
    "pii.credit_card": ["4111 1111 1111 1111"],
    "pii.iban": ["DE89 3704 0044 0532 0130 00"],
}
FILLER = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="@<>0123456789"),
    max_size=20,
)


@functools.cache
def guardrails() -> tuple[DetectorInspector, Redactor]:
    ring = Keyring.generate()
    return DetectorInspector(build_scanner(), ring), Redactor(ring)


@st.composite
def planted(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(
            st.tuples(FILLER, st.sampled_from(sorted(VALUES)), st.integers(0, 1)),
            min_size=1,
            max_size=4,
        )
    )
    tail = draw(FILLER)
    return "".join(f"{f} {VALUES[c][p % len(VALUES[c])]} " for f, c, p in parts) + tail


def pseudonymise(text: str) -> tuple[str, dict[str, str]]:
    inspector, redactor = guardrails()
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    parsed = parse_body(orjson.dumps(body), Endpoint.CHAT, WireOptions())
    findings = inspector.inspect(parsed.conversation)
    classes = sorted({f.data_class for f in findings} & set(VALUES))
    decision = Decision(Action.REDACT, redactions=tuple((c, "pseudonymise") for c in classes))
    sent, applied = redactor.apply(parsed.body, parsed.conversation, findings, decision)
    assert applied is not None
    return str(sent["messages"][0]["content"]), dict(applied.restorations)


def answer(text: str) -> dict[str, object]:
    message = {"role": "assistant", "content": text}
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


@fuzz(200)
@given(text=planted())
def test_a_whole_answer_restores_to_the_original(text: str) -> None:
    redacted, restorations = pseudonymise(text)
    for values in VALUES.values():
        assert not any(value in redacted for value in values), redacted
    payload = answer(redacted)
    restore_answer(payload, ReplaceTextHook(restorations))
    assert payload["choices"][0]["message"]["content"] == text  # type: ignore[index]


@fuzz(200)
@given(text=planted(), data=st.data())
async def test_a_streamed_answer_cut_anywhere_restores_to_the_original(
    text: str, data: st.DataObject
) -> None:
    redacted, restorations = pseudonymise(text)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(redacted)), max_size=8)))
    pieces = [redacted[a:b] for a, b in zip([0, *cuts], [*cuts, len(redacted)], strict=True)]
    events = [
        {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        for piece in pieces
    ]
    raw = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events)
    raw += "data: [DONE]\n\n"

    async def upstream() -> AsyncIterator[bytes]:
        yield raw.encode()

    relay = StreamRelay([ReplaceTextHook(restorations)])
    out = b"".join([piece async for piece in relay.relay(upstream())])
    parser = SseParser()
    restored = ""
    for event in parser.feed(out) + parser.finish():
        if event.data and event.data != "[DONE]":
            for choice in orjson.loads(event.data).get("choices", []):
                restored += choice["delta"].get("content") or ""
    assert restored == text
