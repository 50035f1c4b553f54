"""Redaction: rewrite only the redacted spans of each string the model will read.

Findings point at segments; a segment is a run of one string in the body (its ``path``)
starting at ``segment.start``. Spans of one string are merged where they overlap (the
strongest transform of the merged findings wins) and replaced right to left, so every
character outside a redacted span is forwarded unchanged. Containers on the way to a
changed string are copied; the parsed body itself is never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.crypto.keyring import Keyring
from bastion.model import Conversation, Decision, Finding
from bastion.model.conversation import Path
from bastion.model.decision import TRANSFORM_STRENGTH as STRENGTH
from bastion.transform.replacements import Replacements


@dataclass(frozen=True, slots=True)
class Redaction:
    """What one call's redaction did; ``restorations`` feeds the answer's restore step."""

    restorations: Mapping[str, str]
    classes: tuple[str, ...]
    spans: int


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
        for finding in findings:
            transform = chosen.get(finding.data_class)
            if transform is None:
                continue
            segment = conversation.segments[finding.segment]
            offset = segment.start
            by_path.setdefault(segment.path, []).append(
                _Span(offset + finding.start, offset + finding.end, finding.data_class, transform)
            )
        if not by_path:
            return body, None
        replacements = Replacements(self._keyring)
        changed: dict[Path, str] = {}
        count = 0
        for path, spans in by_path.items():
            original = _get(body, path)
            if not isinstance(original, str):
                continue
            merged = _merge(spans)
            count += len(merged)
            changed[path] = _rewrite(original, merged, replacements)
        classes = tuple(sorted({s.data_class for spans in by_path.values() for s in spans}))
        redaction = Redaction(replacements.restorations, classes, count)
        return _with_strings(body, changed), redaction


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


def _rewrite(text: str, spans: list[_Span], replacements: Replacements) -> str:
    pieces: list[str] = []
    at = 0
    for span in spans:
        pieces.append(text[at : span.start])
        value = text[span.start : span.end]
        pieces.append(replacements.replace(span.transform, span.data_class, value))
        at = span.end
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
