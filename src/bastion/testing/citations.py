"""Web-search citations: scripted as quoted passages, sent as OpenAI's ``url_citation``.

A scripted reply names each source by the passage of the answer it supports (``quote``);
the simulator places it at the quote's first occurrence in the answer's final text, so a
test never counts offsets by hand. Offsets count characters as Python does (code
points), ``end_index`` exclusive: ``text[start_index:end_index] == quote``, the same
arithmetic Bastion uses when it moves citations over rewritten text.

Shapes, as OpenAI's web-search models send them: chat ``message.annotations`` (and,
streamed, the last chunk's ``delta.annotations``) hold ``{"type": "url_citation",
"url_citation": {...}}``; Responses ``output_text`` parts hold flat ``{"type":
"url_citation", "start_index", "end_index", "url", "title"}`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Citation:
    """A web source the answer cites, given by the passage of the answer it supports."""

    url: str
    title: str
    quote: str

    def __post_init__(self) -> None:
        if not self.url or not self.quote:
            raise ValueError("a citation needs a non-empty 'url' and 'quote'")


@dataclass(frozen=True, slots=True)
class CitedSpan:
    """A citation placed in the answer text: ``text[start:end]`` is its quote."""

    citation: Citation
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError("a cited span needs 0 <= start < end")


def parse_citations(raw: Any) -> tuple[Citation, ...]:
    """Validate the ``citations`` of a scripted reply: ``[{"url", "title", "quote"}]``."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("citations must be a non-empty list of {url, title, quote}")
    citations = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise ValueError("each citation must be an object {url, title, quote}")
        url, title, quote = (entry.get(name) for name in ("url", "title", "quote"))
        if not (isinstance(url, str) and isinstance(title, str) and isinstance(quote, str)):
            raise ValueError("a citation's 'url', 'title' and 'quote' must be strings")
        citations.append(Citation(url, title, quote))
    return tuple(citations)


def place_citations(text: str, citations: Iterable[Citation]) -> tuple[CitedSpan, ...]:
    """Each citation at the first occurrence of its quote in ``text``; a quote that is
    not there is the test's mistake, reported rather than silently dropped."""
    spans = []
    for citation in citations:
        start = text.find(citation.quote)
        if start < 0:
            raise ValueError(f"citation quote {citation.quote!r} is not in the answer text")
        spans.append(CitedSpan(citation, start, start + len(citation.quote)))
    return tuple(spans)


def within(spans: tuple[CitedSpan, ...], length: int) -> tuple[CitedSpan, ...]:
    """The spans that still fit a text cut to ``length`` characters (``max_tokens``)."""
    return tuple(span for span in spans if span.end <= length)


def chat_annotations(spans: Iterable[CitedSpan]) -> list[dict[str, Any]]:
    """Chat Completions annotations: the offsets nested under ``url_citation``."""
    return [
        {
            "type": "url_citation",
            "url_citation": {
                "url": span.citation.url,
                "title": span.citation.title,
                "start_index": span.start,
                "end_index": span.end,
            },
        }
        for span in spans
    ]


def responses_annotations(spans: Iterable[CitedSpan]) -> list[dict[str, Any]]:
    """Responses ``output_text`` annotations: flat, the offsets beside the URL."""
    return [
        {
            "type": "url_citation",
            "start_index": span.start,
            "end_index": span.end,
            "url": span.citation.url,
            "title": span.citation.title,
        }
        for span in spans
    ]
