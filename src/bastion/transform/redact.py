"""Redaction: rewrite only the redacted spans of each string the model will read.

Findings point at segments; a segment is a run of one string in the body (its ``path``)
starting at ``segment.start``. Spans of one string are merged where they overlap (the
strongest transform of the merged findings wins) and replaced in order, so every
character outside a redacted span is forwarded unchanged. Tool-call arguments are JSON
text and stay valid JSON (:mod:`bastion.transform.json_text`): upstreams refuse a
history whose arguments no longer parse. ``spotlight`` is not a span
replacement: the whole segment holding the finding is delimited as data
(:mod:`bastion.transform.spotlight`) after its other spans are replaced. Containers on
the way to a changed string are copied; the parsed body itself is never mutated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.crypto.keyring import Keyring
from bastion.model import Conversation, Decision, Finding
from bastion.model.conversation import Path
from bastion.model.decision import TRANSFORM_STRENGTH as STRENGTH
from bastion.transform.base import Unrewritable
from bastion.transform.json_text import rewrite_json
from bastion.transform.replacements import Replacements
from bastion.transform.spotlight import Spotlight


@dataclass(frozen=True, slots=True)
class Redaction:
    """What one call's redaction did; ``restorations`` feeds the answer's restore step."""

    restorations: Mapping[str, str]
    classes: tuple[str, ...]
    spans: int
    json_answer: bool = False


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    data_class: str
    transform: str


class Redactor:
    """The transform stage for redact decisions (``Decision.redactions``: class → transform)."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def apply(
        self,
        body: dict[str, Any],
        conversation: Conversation,
        findings: Sequence[Finding],
        decision: Decision,
    ) -> tuple[dict[str, Any], Redaction | None]:
        chosen = dict(decision.redactions)
        if not chosen or not findings:
            return body, None
        by_path: dict[Path, list[_Span]] = {}
        marks: dict[Path, set[tuple[int, int]]] = {}  # segments to spotlight, per string
        classes: set[str] = set()
        unrewritable: set[str] = set()
        for finding in findings:
            transform = chosen.get(finding.data_class)
            if transform is None:
                continue
            classes.add(finding.data_class)
            segment = conversation.segments[finding.segment]
            if segment.names:
                if transform != "spotlight":  # a name holds data, not instructions
                    unrewritable.add(finding.data_class)
                continue
            offset = segment.start
            if transform == "spotlight":
                marks.setdefault(segment.path, set()).add((offset, offset + len(segment.text)))
                by_path.setdefault(segment.path, [])
                continue
            by_path.setdefault(segment.path, []).append(
                _Span(offset + finding.start, offset + finding.end, finding.data_class, transform)
            )
        if unrewritable:
            raise Unrewritable(sorted(unrewritable))
        if not by_path:
            return body, None
        replacements = Replacements(self._keyring, [s.text for s in conversation.segments])
        spotlight = Spotlight() if marks else None
        changed: dict[Path, str] = {}
        count = 0
        for path, spans in by_path.items():
            original = _get(body, path)
            if not isinstance(original, str):  # segments are strings of the body
                raise Unrewritable(sorted({span.data_class for span in spans}))
            merged = _merge(spans)
            edits: list[_Edit] = [
                (
                    s.start,
                    s.end,
                    2,
                    replacements.replace(s.transform, s.data_class, original[s.start : s.end]),
                )
                for s in merged
            ]
            count += len(merged) + len(marks.get(path, ()))
            if path not in marks and _json_arguments(path, original):
                changed[path] = rewrite_json(original, [(a, b, r) for a, b, _, r in edits])
                continue
            if spotlight is not None and path in marks:
                edits += _marks(marks[path], merged, spotlight)
            changed[path] = _rewrite(original, edits)
        rewritten = _with_strings(body, changed)
        if spotlight is not None:
            rewritten = spotlight.instruct(rewritten, conversation.endpoint)
        redaction = Redaction(
            replacements.restorations, tuple(sorted(classes)), count, asks_for_json(body)
        )
        return rewritten, redaction


_JSON_FORMATS = ("json_schema", "json_object")


def _json_arguments(path: Path, text: str) -> bool:
    """Whether the string at ``path`` is a tool call's JSON arguments (chat
    ``tool_calls[].function``, legacy ``function_call``, a Responses input item) and
    parses: only then is a span outside a string a number, safe to quote, never text
    the JSON rewrite would leave as it is."""
    if (
        len(path) < 2
        or path[-1] != "arguments"
        or not (
            path[-2] in ("function", "function_call") or (len(path) == 3 and path[0] == "input")
        )
    ):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def asks_for_json(body: Mapping[str, Any]) -> bool:
    """Whether the answer will be a JSON document: chat ``response_format`` or Responses
    ``text.format`` of type ``json_schema`` / ``json_object`` (structured outputs)."""
    chat = body.get("response_format")
    text = body.get("text")
    responses = text.get("format") if isinstance(text, Mapping) else None
    return any(
        isinstance(fmt, Mapping) and fmt.get("type") in _JSON_FORMATS for fmt in (chat, responses)
    )


def _merge(spans: list[_Span]) -> list[_Span]:
    """Sorted, non-overlapping spans; overlapping ones join under the strongest transform."""
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[_Span] = []
    for span in spans:
        if span.start == span.end:
            continue
        last = merged[-1] if merged else None
        if last is not None and span.start < last.end:
            last.end = max(last.end, span.end)
            if STRENGTH[span.transform] > STRENGTH[last.transform]:
                last.transform, last.data_class = span.transform, span.data_class
            continue
        merged.append(_Span(span.start, span.end, span.data_class, span.transform))
    return merged


_Edit = tuple[int, int, int, str]
"""(start, end, order at one position: closing 0 / opening 1 / span 2, replacement)."""


def _marks(segments: set[tuple[int, int]], spans: list[_Span], spotlight: Spotlight) -> list[_Edit]:
    """Zero-width edits opening and closing each spotlighted segment; a marker that would
    fall inside a redacted span moves to that span's edge, outside it."""

    def outside(at: int, *, opening: bool) -> int:
        for span in spans:
            if span.start < at < span.end:
                return span.start if opening else span.end
        return at

    edits: list[_Edit] = []
    for start, end in segments:
        opening, closing = outside(start, opening=True), outside(end, opening=False)
        edits.append((opening, opening, 1, spotlight.opening))
        edits.append((closing, closing, 0, spotlight.closing))
    return edits


def _rewrite(text: str, edits: list[_Edit]) -> str:
    """``text`` with each edit's range replaced; edits do not overlap (zero-width ones
    may share a position: a closing marker, then an opening one, then a span)."""
    pieces: list[str] = []
    at = 0
    for start, end, _, replacement in sorted(edits, key=lambda e: (e[0], e[2])):
        pieces.append(text[at:start])
        pieces.append(replacement)
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def _get(body: Any, path: Path) -> Any:
    node = body
    for step in path:
        node = node[step]
    return node


def _with_strings(body: dict[str, Any], changed: Mapping[Path, str]) -> dict[str, Any]:
    """A copy of ``body`` with the strings at ``changed`` replaced (copy on the paths only)."""
    copies: dict[int, Any] = {}

    def writable(node: Any) -> Any:
        copy = copies.get(id(node))
        if copy is None:
            copy = dict(node) if isinstance(node, dict) else list(node)
            copies[id(node)] = copy
        return copy

    root = writable(body)
    for path, text in changed.items():
        parent_copy = root
        original: Any = body
        for step in path[:-1]:
            original = original[step]
            child = writable(original)
            parent_copy[step] = child
            parent_copy = child
        parent_copy[path[-1]] = text
    result: dict[str, Any] = root
    return result
