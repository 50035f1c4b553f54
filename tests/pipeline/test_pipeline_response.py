"""Complete answers: citations keep pointing at the same words once stand-ins are restored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from bastion.pipeline.response import finish_json_body

EMAIL = "<EMAIL_1a2b3c4d>"
FAKE = "morgan.marlowe2133@example.com"
ORIGINALS = {EMAIL: "dana@northwind.example", FAKE: "Dana Whitfield <dw@northwind.example>"}


@dataclass(frozen=True)
class Applied:
    restorations: Mapping[str, str] = field(default_factory=lambda: ORIGINALS)
    json_answer: bool = False


def cite(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def responses_answer(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": annotations}
    item = {"type": "message", "role": "assistant", "content": [part]}
    return {"object": "response", "model": "m", "status": "completed", "output": [item]}


def finished(payload: dict[str, Any]) -> dict[str, Any]:
    out = finish_json_body(orjson.dumps(payload), payload, "m", Applied())
    return dict(orjson.loads(out))


TEXT = f"Write to {EMAIL} (see the guide) or to {FAKE}, whose policy applies."


def test_responses_citations_cover_the_same_words_after_restoration() -> None:
    guide, policy = cite(TEXT, "the guide"), cite(TEXT, "policy")
    annotations = [
        {"type": "url_citation", "start_index": guide[0], "end_index": guide[1],
         "url": "https://docs.example.com/guide", "title": "Guide"},
        {"type": "url_citation", "start_index": policy[0], "end_index": policy[1],
         "url": "https://docs.example.com/policy", "title": "Policy"},
        {"type": "file_citation", "index": policy[1], "file_id": "file-1", "filename": "p.pdf"},
    ]  # fmt: skip
    out = finished(responses_answer(TEXT, annotations))
    part = out["output"][0]["content"][0]
    text = part["text"]
    assert text == TEXT.replace(EMAIL, ORIGINALS[EMAIL]).replace(FAKE, ORIGINALS[FAKE])
    url, url2, file = part["annotations"]
    assert text[url["start_index"] : url["end_index"]] == "the guide"
    assert text[url2["start_index"] : url2["end_index"]] == "policy"
    assert file["index"] == url2["end_index"]


def test_a_citation_of_the_stand_in_itself_covers_the_restored_value() -> None:
    start, end = cite(TEXT, EMAIL)
    inside = start + 3  # a citation may start or end inside the token
    annotations = [
        {"type": "url_citation", "start_index": start, "end_index": end, "url": "u", "title": ""},
        {"type": "url_citation", "start_index": inside, "end_index": inside + 2, "url": "u",
         "title": ""},
    ]  # fmt: skip
    part = finished(responses_answer(TEXT, annotations))["output"][0]["content"][0]
    whole, partial = part["annotations"]
    restored = ORIGINALS[EMAIL]
    assert part["text"][whole["start_index"] : whole["end_index"]] == restored
    assert part["text"][partial["start_index"] : partial["end_index"]] == restored


@pytest.mark.parametrize("glued", [False, True], ids=["whole", "glued-fake-left-alone"])
def test_chat_message_annotations_cover_the_same_words_after_restoration(glued: bool) -> None:
    text = TEXT.replace(FAKE, f"x{FAKE}") if glued else TEXT
    start, end = cite(text, "policy")
    citation = {"start_index": start, "end_index": end, "url": "https://d.example", "title": "P"}
    message = {
        "role": "assistant",
        "content": text,
        "annotations": [{"type": "url_citation", "url_citation": citation}],
    }
    out = finished({"object": "chat.completion", "choices": [{"index": 0, "message": message}]})
    restored = out["choices"][0]["message"]
    shifted = restored["annotations"][0]["url_citation"]
    assert restored["content"][shifted["start_index"] : shifted["end_index"]] == "policy"
