"""Each fault produces the misbehaviour it names, with real incremental ASGI sends."""

from __future__ import annotations

import orjson
import pytest
from sim_helpers import drive, sse_data

from bastion.testing import Simulator
from bastion.testing.faults import BIG_EVENT_BYTES

CHAT = "/v1/chat/completions"
TEXT = "The quick brown fox jumps over the lazy dog again and again"


def _body(directive: str, *, stream: bool = True, text: str = TEXT) -> dict[str, object]:
    content = f"{text} [[sim:fault={directive}]]" if directive else text
    return {
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": content}],
    }


def _text(raw: bytes) -> str:
    parts = []
    for payload in sse_data(raw):
        if payload != "[DONE]":
            for choice in orjson.loads(payload)["choices"]:
                parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


async def test_normal_stream_is_sent_event_by_event(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body(""))
    assert recorded.completed
    assert len(recorded.bodies) > 4
    assert recorded.body.endswith(b"data: [DONE]\n\n")


async def test_html_200(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("html_200"))
    assert recorded.status == 200
    assert recorded.headers["content-type"].startswith("text/html")
    assert recorded.body.startswith(b"<!DOCTYPE html>")


async def test_big_event_is_one_event_over_5_mb(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("big_event"))
    events = recorded.body.split(b"\n\n")
    assert max(len(event) for event in events) >= 5 * 1024 * 1024
    assert len(_text(recorded.body)) == BIG_EVENT_BYTES


async def test_crlf_framing(app: Simulator) -> None:
    raw = (await drive(app, CHAT, _body("crlf"))).body
    assert b"\r\n\r\n" in raw
    assert raw.replace(b"\r\n", b"").count(b"\n") == 0
    assert raw.endswith(b"data: [DONE]\r\n\r\n")
    assert TEXT in _text(raw)


async def test_no_done(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("no_done"))
    assert recorded.completed
    assert b"[DONE]" not in recorded.body
    assert TEXT in _text(recorded.body)


async def test_no_done_on_responses_omits_completed(app: Simulator) -> None:
    body = {"model": "gpt-4o-mini", "stream": True, "input": "hi [[sim:fault=no_done]]"}
    raw = (await drive(app, "/v1/responses", body)).body
    assert b"response.output_item.done" in raw and b"response.completed" not in raw


async def test_split_utf8_reassembles_to_text(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("split_utf8"))
    pieces = [chunk for _, chunk in recorded.bodies if chunk]
    assert all(len(piece) == 1 for piece in pieces)
    undecodable = 0
    for piece in pieces:
        try:
            piece.decode()
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0
    text = _text(recorded.body)
    assert text.startswith("héllo wörld 日本 ")
    assert text.endswith("[[sim:fault=split_utf8]]")


@pytest.mark.parametrize(("status", "code"), [(500, None), (503, None), (401, "invalid_api_key")])
async def test_status_with_openai_error_body(app: Simulator, status: int, code: str | None) -> None:
    recorded = await drive(app, CHAT, _body(f"status,status={status}"))
    assert recorded.status == status
    error = orjson.loads(recorded.body)["error"]
    assert error["code"] == code and error["message"]


async def test_rate_limit_has_retry_after(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("rate_limit,seconds=7"))
    assert recorded.status == 429
    assert recorded.headers["retry-after"] == "7"
    assert recorded.headers["retry-after-ms"] == "7000"
    assert orjson.loads(recorded.body)["error"]["code"] == "rate_limit_exceeded"


async def test_slow_first_byte(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("slow_first_byte,seconds=0.3"))
    assert recorded.bodies[0][0] - recorded.started_at >= 0.3
    assert recorded.completed


async def test_stall_pauses_mid_stream_then_finishes(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("stall,seconds=0.3,after=2"))
    gaps = [b[0] - a[0] for a, b in zip(recorded.bodies, recorded.bodies[1:], strict=False)]
    assert gaps[1] >= 0.3 and sum(gaps) - gaps[1] < 0.1
    assert recorded.completed and recorded.body.endswith(b"data: [DONE]\n\n")


async def test_pace_spreads_the_events_like_a_model_generating_tokens(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("pace,per_s=40"))
    gaps = [b[0] - a[0] for a, b in zip(recorded.bodies, recorded.bodies[1:], strict=False)]
    assert len(gaps) >= 4 and min(gaps[:-1]) >= 0.024  # the last send only ends the body
    assert recorded.completed and _text(recorded.body).startswith(TEXT)


async def test_error_mid_stream(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("error_mid_stream"))
    payloads = sse_data(recorded.body)
    assert len(payloads) == 3
    assert orjson.loads(payloads[-1])["error"]["type"] == "server_error"
    assert b"[DONE]" not in recorded.body


async def test_error_mid_stream_carries_a_scripted_message(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("error_mid_stream,message=shard 7 failed"))
    assert orjson.loads(sse_data(recorded.body)[-1])["error"]["message"] == "shard 7 failed"


async def test_error_mid_stream_on_responses_is_error_event(app: Simulator) -> None:
    body = {"model": "gpt-4o-mini", "stream": True, "input": "hi [[sim:fault=error_mid_stream]]"}
    payloads = sse_data((await drive(app, "/v1/responses", body)).body)
    last = orjson.loads(payloads[-1])
    assert last["type"] == "error" and last["sequence_number"] == 2


async def test_disconnect_never_finishes_the_body(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("disconnect"))
    assert recorded.status == 200
    assert not recorded.completed
    assert len(sse_data(recorded.body)) == 2


async def test_garbled_event_is_not_json(app: Simulator) -> None:
    payloads = sse_data((await drive(app, CHAT, _body("garbled"))).body)
    broken = [p for p in payloads if p != "[DONE]" and not p.startswith('{"id"')]
    assert len(broken) == 1
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(broken[0])


async def test_truncated_ends_inside_an_event(app: Simulator) -> None:
    recorded = await drive(app, CHAT, _body("truncated"))
    assert recorded.completed
    assert not recorded.body.endswith(b"\n\n")
    last = recorded.body.split(b"\n\n")[-1]
    assert last.startswith(b"data: {")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(last[6:])


async def test_comments_between_events(app: Simulator) -> None:
    raw = (await drive(app, CHAT, _body("comments"))).body
    events = [e for e in raw.split(b"\n\n") if e]
    assert events[0] == b": keep-alive"
    assert all(events[i] == b": keep-alive" for i in range(0, len(events), 2))
    assert TEXT in _text(raw)


@pytest.mark.parametrize("fault", ["truncated", "disconnect"])
async def test_non_streamed_body_is_cut(app: Simulator, fault: str) -> None:
    recorded = await drive(app, CHAT, _body(fault, stream=False))
    assert recorded.status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(recorded.body)
    assert recorded.completed is (fault == "truncated")


async def test_fault_applies_to_one_request_only(app: Simulator) -> None:
    payload = {"replies": [{"fault": "no_done"}]}
    await drive(app, "/_sim/script", payload)
    first = await drive(app, CHAT, _body(""))
    second = await drive(app, CHAT, _body(""))
    assert b"[DONE]" not in first.body and b"[DONE]" in second.body


async def test_latency_option_delays_the_first_byte() -> None:
    from bastion.testing import SimulatorOptions, create_app

    slow = create_app(SimulatorOptions(latency_ms=200))
    recorded = await drive(slow, CHAT, _body(""))
    assert recorded.bodies[0][0] - recorded.started_at >= 0.2
