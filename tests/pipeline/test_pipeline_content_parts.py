"""Chat answers whose content comes as parts (``[{"type": "text", "text": ...}]``), as
some OpenAI-compatible servers send them: every text part is scanned and restored like
string content, streamed or complete; a part that is not text is refused (502), never
relayed unread."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.pipeline.test_pipeline_stream_free_texts import (
    INSPECTOR,
    MAPPING,
    ORIGINAL,
    PHONE,
    PLACEHOLDER,
    chat_chunk,
    guard,
    relay,
    sse,
)

from bastion.errors import PermissionDenied, UpstreamFailed
from bastion.pipeline.answer_scan import AnswerScan, AnswerScanHook
from bastion.pipeline.output_guard import OutputGuardHook
from bastion.pipeline.response import AnswerShaper, finish_json_body
from bastion.pipeline.stream_hooks import ReplaceTextHook


class Applied:
    restorations = MAPPING
    json_answer = False


def parts_chunk(*parts: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return chat_chunk({"content": list(parts)}, finish)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def joined(payloads: list[Any]) -> str:
    out = ""
    for payload in payloads:
        content = payload["choices"][0]["delta"].get("content")
        for part in content if isinstance(content, list) else ():
            out += part.get("text", "")
    return out


STREAM = [
    chat_chunk({"role": "assistant", "content": []}),
    parts_chunk(text("Write to <PERS")),
    parts_chunk(text("ON_1a2b3c4d> today")),
    parts_chunk(text(", they said."), finish="stop"),
    "[DONE]",
]


@pytest.mark.parametrize("size", [3, 11, 4096])
async def test_streamed_text_parts_get_the_originals_back(size: int) -> None:
    payloads = await relay([ReplaceTextHook(MAPPING)], sse(STREAM), size=size)
    assert joined(payloads) == f"Write to {ORIGINAL} today, they said."
    assert PLACEHOLDER[:6] not in json_dump(payloads)


def json_dump(payloads: list[Any]) -> str:
    return orjson.dumps(payloads).decode()


async def test_streamed_text_parts_are_scanned_and_guarded() -> None:
    raw = sse([parts_chunk(text(f"call {PHONE[:6]}")), parts_chunk(text(f"{PHONE[6:]} now"))])
    scan = AnswerScan(INSPECTOR)
    await relay([AnswerScanHook(scan)], raw)
    assert [f.data_class for f in scan.findings] == ["pii.phone"]
    redacted = await relay([OutputGuardHook(guard("redact"))], raw)
    assert joined(redacted) == "call [PHONE] now"
    with pytest.raises(PermissionDenied):
        await relay([OutputGuardHook(guard("block"))], raw)


def test_a_complete_answer_in_parts_is_restored_and_guarded() -> None:
    message = {
        "role": "assistant",
        "content": [text(f"Write to {PLACEHOLDER}."), {"type": "refusal", "refusal": "No."}],
    }
    payload = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    out = orjson.loads(finish_json_body(orjson.dumps(payload), payload, "m", Applied()))
    assert out["choices"][0]["message"]["content"][0]["text"] == f"Write to {ORIGINAL}."

    leaking = {"role": "assistant", "content": [text("ok"), text(f"call {PHONE}")]}
    answer = {"object": "chat.completion", "choices": [{"index": 0, "message": leaking}]}
    assert guard("redact").apply_json(answer) is True
    assert leaking["content"][1] == text("call [PHONE]")


@pytest.mark.parametrize(
    "part",
    [
        {"type": "thinking", "thinking": [text(f"their phone is {PHONE}")]},
        {"type": "image_url", "image_url": {"url": "https://evil.example/x.png"}},
        "bare string",
    ],
    ids=["thinking", "image", "not-a-part"],
)
def test_a_part_bastion_cannot_read_is_refused(part: Any) -> None:
    message = {"role": "assistant", "content": [text("ok"), part]}
    payload = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    with pytest.raises(UpstreamFailed, match="content parts other than text"):
        finish_json_body(orjson.dumps(payload), payload, "m", None)


async def test_a_streamed_part_bastion_cannot_read_is_refused() -> None:
    thinking = {"type": "thinking", "thinking": [text(f"their phone is {PHONE}")]}
    raw = sse([parts_chunk(text("Hello")), parts_chunk(thinking), "[DONE]"])
    with pytest.raises(UpstreamFailed, match="content parts other than text"):
        await relay([AnswerShaper("m", hide_usage=False)], raw)
