"""What a call's kept content is built from in each retention mode: the forwarded body or
the original, the answer as the client got it (JSON or stream), placeholders put back."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
import pytest

from bastion.audit.content import ContentSealer, RetentionRules
from bastion.config.schema import AuditContentConfig
from bastion.crypto.keyring import Keyring
from bastion.model import Endpoint, Finding, Principal
from bastion.pipeline.content import ContentKeeper, NoContent
from bastion.pipeline.context import CallContext, IncomingCall
from bastion.storage.audit_content import StoredContent
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions

EMAIL = "dana.whitfield@northwind-example.com"
PLACEHOLDER = "<EMAIL_1a2b3c4d>"
ORIGINAL = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Mail {EMAIL}"}]}
FORWARDED = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": f"Mail {PLACEHOLDER}"}],
}
ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Sent to {EMAIL}"}}],
}
RING = Keyring.generate()


class Restored:
    restorations: Mapping[str, str] = {PLACEHOLDER: EMAIL}
    json_answer = False


class Sink:
    def __init__(self) -> None:
        self.items: list[StoredContent] = []

    def submit(self, item: StoredContent) -> None:
        self.items.append(item)


def keeper(mode: str, sink: Sink, max_bytes: int = 1 << 20) -> ContentKeeper:
    rules = RetentionRules(AuditContentConfig.model_validate({"apps": {"billing": mode}}))
    return ContentKeeper(rules, ContentSealer(RING), sink, max_bytes=max_bytes)


def call(app: str = "billing") -> CallContext:
    body = orjson.dumps(ORIGINAL)
    ctx = CallContext(IncomingCall(Endpoint.CHAT, body, "bst_x", "req_1", 0.0))
    ctx.principal = Principal(key_id="k1", name="n", app=app, team="finance")
    ctx.parsed = parse_body(body, Endpoint.CHAT, WireOptions())
    fingerprint = RING.fingerprint("pii.email", EMAIL)
    ctx.findings = [Finding("pii.email", 0, 5, 5 + len(EMAIL), 0.9, fingerprint=fingerprint)]
    return ctx


def kept(sink: Sink) -> dict[str, object]:
    (item,) = sink.items
    return ContentSealer(RING).open(item).document


def test_redacted_keeps_the_forwarded_body_and_the_answer_with_placeholders() -> None:
    sink = Sink()
    content = keeper("redacted", sink)
    ctx = call()
    content.draft(ctx, FORWARDED, Restored())
    assert ctx.content is not None
    ctx.content.answer_json(orjson.dumps(ANSWER))
    content.keep(ctx)
    document = kept(sink)
    assert document == {
        "request": FORWARDED,
        "answer": [f"Sent to {PLACEHOLDER}"],
        "truncated": False,
    }
    assert EMAIL not in orjson.dumps(document).decode()
    assert sink.items[0].fingerprints == (RING.fingerprint("pii.email", EMAIL),)
    assert ctx.content_ref == {"mode": "redacted", "digest": sink.items[0].digest}
    assert (sink.items[0].app, sink.items[0].team) == ("billing", "finance")


@pytest.mark.parametrize("mode", ["encrypted", "full"])
def test_encrypted_and_full_keep_the_original_and_the_answer_as_received(mode: str) -> None:
    sink = Sink()
    content = keeper(mode, sink)
    ctx = call()
    content.draft(ctx, FORWARDED, Restored())
    assert ctx.content is not None
    ctx.content.answer_json(orjson.dumps(ANSWER))
    content.keep(ctx)
    assert kept(sink) == {"request": ORIGINAL, "answer": [f"Sent to {EMAIL}"], "truncated": False}
    assert (EMAIL in sink.items[0].payload) is (mode == "full")


def test_a_streamed_answer_is_kept_from_the_chunks_the_client_got() -> None:
    sink = Sink()
    content = keeper("full", sink)
    ctx = call()
    content.draft(ctx, FORWARDED, None)
    assert ctx.content is not None
    pieces = ["Sent ", "to dana", ".whitfield@northwind-example.com"]
    stream = b"".join(
        b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]}) + b"\n\n"
        for piece in pieces
    )
    stream += b"data: [DONE]\n\n"
    for at in range(0, len(stream), 7):  # chunk edges anywhere, even inside an event
        ctx.content.answer_chunk(stream[at : at + 7])
    content.keep(ctx)
    assert kept(sink)["answer"] == [f"Sent to {EMAIL}"]


def test_a_streamed_responses_answer_is_kept_from_its_text_deltas() -> None:
    sink = Sink()
    content = keeper("full", sink)
    ctx = call()
    content.draft(ctx, FORWARDED, None)
    assert ctx.content is not None
    for kind, data in (
        ("response.created", {"response": {"id": "r1"}}),
        ("response.output_text.delta", {"output_index": 0, "content_index": 0, "delta": "Sent "}),
        ("response.output_text.delta", {"output_index": 0, "content_index": 0, "delta": EMAIL}),
        ("response.completed", {"response": {"output": [{"content": [{"text": "x"}]}]}}),
    ):
        event = orjson.dumps({"type": kind, **data})
        ctx.content.answer_chunk(b"event: " + kind.encode() + b"\ndata: " + event + b"\n\n")
    content.keep(ctx)
    assert kept(sink)["answer"] == [f"Sent {EMAIL}"]


def test_a_refused_call_keeps_its_original_only_where_the_mode_keeps_originals() -> None:
    for mode, expected in (("full", 1), ("encrypted", 1), ("redacted", 0), ("none", 0)):
        sink = Sink()
        ctx = call()  # no draft: refused before anything was forwarded
        keeper(mode, sink).keep(ctx)
        assert len(sink.items) == expected, mode
        assert (ctx.content_ref is not None) is bool(expected)


def test_calls_of_other_apps_keep_nothing() -> None:
    sink = Sink()
    content = keeper("full", sink)
    ctx = call(app="helpdesk")
    content.draft(ctx, FORWARDED, None)
    assert ctx.content is None
    content.keep(ctx)
    assert sink.items == [] and ctx.content_ref is None
    NoContent().keep(ctx)


def test_a_long_answer_is_cut_at_the_bound() -> None:
    sink = Sink()
    content = keeper("full", sink, max_bytes=2048)
    ctx = call()
    content.draft(ctx, FORWARDED, None)
    assert ctx.content is not None
    answer = {**ANSWER, "choices": [{"index": 0, "message": {"content": "x" * 5000}}]}
    ctx.content.answer_json(orjson.dumps(answer))
    content.keep(ctx)
    document = kept(sink)
    assert document["truncated"] is True
    assert len(orjson.dumps(document)) < 2048 + 200
