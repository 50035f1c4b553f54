"""SSE parsing and encoding: framings, splits, comments, limits and garbage."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.errors import BastionError
from bastion.wire.sse import (
    DONE,
    SseEvent,
    SseEventTooLarge,
    SseParser,
    encode_comment,
    encode_event,
)


def parse(*chunks: bytes, limit: int = 16 * 1024 * 1024) -> list[SseEvent]:
    parser = SseParser(limit)
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events + parser.finish()


def parse_bytewise(raw: bytes) -> list[SseEvent]:
    return parse(*(raw[i : i + 1] for i in range(len(raw))))


@pytest.mark.parametrize(
    "newline",
    [pytest.param("\n", id="lf"), pytest.param("\r\n", id="crlf"), pytest.param("\r", id="cr")],
)
def test_every_line_ending_yields_the_same_events(newline: str) -> None:
    raw = f"event: a{newline}data: 1{newline}{newline}data: {DONE}{newline}{newline}".encode()
    expected = [SseEvent("1", "a"), SseEvent(DONE)]
    assert parse(raw) == expected
    assert parse_bytewise(raw) == expected


def test_cr_at_the_end_of_a_chunk_followed_by_lf_is_one_line_break() -> None:
    events = parse(b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n")
    assert events == [SseEvent("x"), SseEvent("y")]


def test_comments_are_ignored_and_counted() -> None:
    parser = SseParser()
    events = parser.feed(b": keep-alive\n\n:\ndata: 1\n: inside\n\n")
    assert events == [SseEvent("1")]
    assert parser.comments == 3


def test_multiple_data_lines_are_joined_with_newlines() -> None:
    assert parse(b"data: a\ndata:\ndata:  b\n\n") == [SseEvent("a\n\n b")]


def test_data_without_space_and_field_without_colon() -> None:
    # "data" alone is an empty data line; "event" alone names no event; unknown fields vanish.
    events = parse(b"data:x\ndata\nevent\nfoo: bar\nid: 7\nretry: 30\n\n")
    assert events == [SseEvent("x\n", None, "7", 30)]


def test_events_without_data_are_not_dispatched() -> None:
    assert parse(b"event: ping\n\nid: 1\n\ndata: real\n\n") == [SseEvent("real")]


def test_an_invalid_retry_is_ignored() -> None:
    assert parse(b"retry: 1s\ndata: d\n\n") == [SseEvent("d")]


def test_utf8_character_split_across_chunks() -> None:
    raw = "data: héllo → 世界 🎉\n\n".encode()
    assert parse_bytewise(raw) == [SseEvent("héllo → 世界 🎉")]


def test_byte_order_mark_at_stream_start_is_dropped() -> None:
    assert parse(b"\xef\xbb", b"\xbfdata: 1\n\n") == [SseEvent("1")]


def test_missing_final_blank_line_is_tolerated() -> None:
    assert parse(b"data: 1\n\ndata: last") == [SseEvent("1"), SseEvent("last")]
    assert parse(b"data: 1\n\ndata: last\n") == [SseEvent("1"), SseEvent("last")]
    assert parse(b"data: 1\n\ndata: last\r") == [SseEvent("1"), SseEvent("last")]


def test_too_large_event_raises_a_bastion_error() -> None:
    with pytest.raises(SseEventTooLarge) as caught:
        parse(b"data: " + b"Q" * 50 + b"\n", b"data: " + b"Q" * 50 + b"\n\n", limit=80)
    assert isinstance(caught.value, BastionError)
    assert (caught.value.status, caught.value.code) == (502, "upstream_error")
    assert "Q" not in str(caught.value)


def test_too_large_unterminated_line_raises() -> None:
    parser = SseParser(100)
    parser.feed(b"data: " + b"z" * 60)
    with pytest.raises(SseEventTooLarge):
        parser.feed(b"z" * 60)


def test_many_small_events_in_one_chunk_stay_under_the_limit() -> None:
    raw = b"".join(b"data: %d\n\n" % i for i in range(1000))
    assert len(parse(raw, limit=64)) == 1000


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert parse(b"data: a\xff\xfeb\n\n", b"data: \xe4\xb8\n\n") == [
        SseEvent("a\ufffd\ufffdb"),
        SseEvent("\ufffd"),
    ]


@given(st.lists(st.binary(max_size=40), max_size=20))
@settings(max_examples=300)
def test_garbage_bytes_never_raise(chunks: list[bytes]) -> None:
    events = parse(*chunks)
    assert all(isinstance(event.data, str) for event in events)


def test_encode_event_writes_fields_then_data_lines() -> None:
    event = SseEvent("a\nb\r\nc", "response.output_text.delta", "9", 100)
    raw = encode_event(event)
    assert raw == (
        b"event: response.output_text.delta\nid: 9\nretry: 100\ndata: a\ndata: b\ndata: c\n\n"
    )
    assert parse(raw) == [SseEvent("a\nb\nc", "response.output_text.delta", "9", 100)]


def test_encode_plain_chunk_is_the_openai_framing() -> None:
    data = orjson.dumps({"choices": [{"delta": {"content": "ü"}}]}).decode()
    assert encode_event(SseEvent(data)) == f"data: {data}\n\n".encode()


def test_encode_comment_is_ignored_by_the_parser() -> None:
    raw = encode_comment("bastion redacted=pii.email\nsecond")
    assert raw == b": bastion redacted=pii.email second\n\n"
    parser = SseParser()
    assert parser.feed(raw) == []
    assert parser.comments == 1


@given(
    st.lists(
        st.builds(
            SseEvent,
            st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
            st.none() | st.from_regex(r"[a-z][a-z._]{0,15}", fullmatch=True),
        ),
        max_size=8,
    ),
    st.data(),
)
def test_encode_then_parse_round_trips_at_any_split(
    events: list[SseEvent], data: st.DataObject
) -> None:
    raw = b"".join(encode_event(event) for event in events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    expected = [SseEvent(e.data.replace("\r\n", "\n").replace("\r", "\n"), e.event) for e in events]
    assert parse(*chunks) == expected
