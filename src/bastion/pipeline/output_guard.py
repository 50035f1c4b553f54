"""Output controls: what the decision's :class:`~bastion.model.controls.OutputPlan` says
to do with values found in the model's answer — redact them or refuse the answer.

:class:`OutputGuard` scans each text of the answer once (before placeholders are
restored: the model's own words), records the findings for the call record as
:class:`~bastion.pipeline.answer_scan.AnswerScan` does, replaces the spans of classes
whose action is ``redact`` (``mask`` → ``[EMAIL]``, ``drop`` → nothing, ``hash`` →
``[EMAIL:1a2b3c4d5e6f]``) and raises ``PermissionDenied`` for a class whose action is
``block``. Inside tool-call arguments (JSON text), and in the text of an answer asked for
as JSON (structured outputs), a replacement keeps the JSON valid.

:class:`OutputGuardHook` does the same for streams. ``window`` mode releases the text in
windows of ``plan.window_chars`` characters, each held until scanned (or, when text comes
slowly, whatever is pending after ``RELEASE_AFTER_S``); a value that may still be growing
at the window's end — anything in the last ``MARGIN`` characters, and any finding
reaching into them — waits whole for the next window. ``buffer`` mode holds
each choice's whole text until it ends. A redaction is announced to the client by an
SSE comment (``: bastion redacted=pii.email``) before the rewritten events; a refusal
raises from the hook, and the relay ends the stream with the contract's error event.

Citations move with the redacted text, as they do with restored text
(:func:`~bastion.pipeline.stream_hooks.shift_annotations`): a complete answer's
annotations on the text they point into, and in streams the citation events, held until
their text is decided (:attr:`~bastion.pipeline.stream_hooks.TextWindowHook.moves_citations`).
A citation reaching into a replaced span covers the whole replacement; one whose words
were all dropped becomes empty where they stood. In a JSON answer (structured outputs)
they are not moved: its replacements are written as JSON, whose lengths are not tracked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.crypto.keyring import Keyring
from bastion.detect.base import Inspector
from bastion.errors import PermissionDenied
from bastion.model import Finding
from bastion.model.controls import OutputAction, OutputPlan
from bastion.pipeline.answer_scan import (
    OVERLAP,
    FindingLog,
    answer_fields,
    answer_key,
    free_text_fields,
    own_findings,
)
from bastion.pipeline.stream import StreamEvent
from bastion.pipeline.stream_hooks import (
    FREE,
    Edit,
    TextKey,
    TextWindowHook,
    cited_annotations,
    shift_annotations,
)
from bastion.transform.json_text import json_string_state, rewrite_json
from bastion.transform.replacements import Replacements

MARGIN = OVERLAP
"""Characters at the end of a window that always wait for more text (longer than any
value a window edge may cut; canaries are at most 40 characters)."""
CONTEXT = OVERLAP
"""Characters of already released text scanned again before a window (context words)."""
RELEASE_AFTER_S = 0.05
"""In ``window`` mode, text waits at most about this long for its window to fill: a text
last decided this long ago is decided as soon as ``MIN_RELEASE`` characters beyond the
margin are pending. A model streaming 50 tokens a second (~200 characters) would
otherwise show nothing until a whole window (``window_chars`` + ``MARGIN``, ~1.7 s)
had arrived, then a window at a time; bounded, the first words go out once the margin
is exceeded and the rest follows a few tokens at a time, at most about 20 scans a
second per text. A fast upstream fills windows first: it is scanned as before."""
MIN_RELEASE = 16
_LOOKBACK = 512  # how far back on its line a URL's markdown or HTML opening is looked for


@dataclass(frozen=True, slots=True)
class _Region:
    """A span of a window to replace, and the class and action it is replaced for."""

    start: int
    end: int
    data_class: str
    action: OutputAction


class OutputGuard:
    """Applies one call's output plan to its answer; ``findings`` fill as it goes.

    ``redacted`` counts the findings replaced per class (for ``x-bastion-redacted`` and
    the call record); a refusal raises ``PermissionDenied`` (``policy_violation``) whose
    ``bastion`` object names the rules and classes, never values. ``json_answer``: the
    request asked for a JSON answer, so its text (not its refusals or reasoning) is
    rewritten as JSON, as tool-call arguments are.
    """

    def __init__(
        self,
        plan: OutputPlan,
        inspector: Inspector,
        keyring: Keyring,
        issued: Collection[str] = (),
        *,
        json_answer: bool = False,
    ) -> None:
        self.plan = plan
        self.json_answer = json_answer
        self._inspector = inspector
        self._issued = issued  # this call's stand-ins: restored, never findings
        self._replacements = Replacements(keyring)
        self.log = FindingLog()
        self.findings = self.log.findings
        self.redacted: dict[str, int] = {}
        self.rules: list[str] = []
        """Rules whose redactions were applied, in first-use order."""
        self.blocked: dict[str, int] = {}
        self.blocking_rules: list[str] = []
        """What refused the answer, when a rule did (for the call record)."""

    def apply_json(self, payload: dict[str, Any]) -> bool:
        """Scan and rewrite every text of a complete chat or Responses answer in place;
        True if any changed. Raises ``PermissionDenied`` when a class is to be blocked."""
        changed = False
        fields = [(h, n, self.json_answer or n == "arguments") for h, n in answer_fields(payload)]
        fields += [(holder, name, False) for holder, name in free_text_fields(payload)]
        for index, (holder, name, in_json) in enumerate(fields):
            text = holder.get(name)
            if not isinstance(text, str) or not text:
                continue
            key = answer_key(index, name)
            findings = self.inspect(text)
            annotations = None if in_json else cited_annotations(holder, name)
            edits: list[Edit] | None = [] if annotations is not None else None
            out = self.review(key, text, findings, in_json=in_json, edits=edits)
            if edits and annotations is not None:
                shift_annotations(annotations, edits)
            if out != text:
                holder[name] = out
                changed = True
        return changed

    def inspect(self, text: str) -> list[Finding]:
        """The findings of one piece of answer text."""
        return own_findings(self._inspector, text, self._issued)

    def review(
        self,
        key: TextKey,
        scanned: str,
        findings: Sequence[Finding],
        *,
        carry: int = 0,
        offset: int = 0,
        in_json: bool = False,
        in_string: bool = False,
        edits: list[Edit] | None = None,
    ) -> str:
        """Decide ``scanned[carry:]`` (the part before ``carry`` was released already):
        record ``findings`` (offsets into ``scanned``, which starts ``offset`` characters
        into text ``key``), refuse or return the window rewritten. ``in_json``: the text
        is JSON (``in_string``: the window starts inside a JSON string). ``edits``, when
        given and the text is prose: each replacement made is appended (offsets into the
        window), to move the citations that point into it."""
        window = scanned[carry:]
        regions: list[_Region] = []
        blocked: dict[str, int] = {}
        blocking_rules: list[str] = []
        for finding in findings:
            if finding.end <= carry:
                continue  # decided with an earlier window
            self.log.add(key, offset, finding)
            action = self.plan.action_for(finding.data_class, finding.dummy)
            if action is None:
                continue
            if action.action == "block":
                blocked[finding.data_class] = blocked.get(finding.data_class, 0) + 1
                if action.rule not in blocking_rules:
                    blocking_rules.append(action.rule)
                continue
            start = max(finding.start, carry) - carry
            end = min(finding.end - carry, len(window))
            regions.append(_Region(start, end, finding.data_class, action))
        if blocked:
            self.blocked, self.blocking_rules = blocked, blocking_rules
            raise refusal(blocking_rules, blocked)
        if not regions:
            return window
        for region in regions:
            self.redacted[region.data_class] = self.redacted.get(region.data_class, 0) + 1
            if region.action.rule not in self.rules:
                self.rules.append(region.action.rule)
        merged = _merge(regions)
        if in_json:
            return self._rewrite_json(window, merged, in_string)
        parts: list[str] = []
        done = 0
        for region in merged:
            parts.append(window[done : region.start])
            replacement = self._replacement(region, window)
            parts.append(replacement)
            if edits is not None:
                edits.append((region.start, region.end, len(replacement)))
            done = region.end
        parts.append(window[done:])
        return "".join(parts)

    def _replacement(self, region: _Region, window: str) -> str:
        value = window[region.start : region.end]
        return self._replacements.replace(region.action.transform, region.data_class, value)

    def _rewrite_json(self, window: str, regions: list[_Region], in_string: bool) -> str:
        """Replace ``regions`` of a window of JSON text, keeping it valid JSON
        (:func:`bastion.transform.json_text.rewrite_json`)."""
        edits = [(r.start, r.end, self._replacement(r, window)) for r in regions]
        return rewrite_json(window, edits, in_string)


def refusal(rules: Sequence[str], classes: dict[str, int]) -> PermissionDenied:
    """The error refusing an answer: rule ids and class names with counts, no values."""
    names = ", ".join(sorted(classes))
    return PermissionDenied(
        f"The answer was refused by policy rule {', '.join(rules)}: it contained {names}.",
        bastion={
            "decision": "block",
            "rules": list(rules),
            "classes": dict(sorted(classes.items())),
        },
    )


def _merge(regions: list[_Region]) -> list[_Region]:
    """Overlapping regions joined; the widest finding names the class replaced."""
    regions.sort(key=lambda r: (r.start, -r.end))
    merged: list[_Region] = []
    for region in regions:
        if merged and region.start < merged[-1].end:
            last = merged[-1]
            widest = last if last.end - last.start >= region.end - region.start else region
            merged[-1] = _Region(last.start, max(last.end, region.end), widest.data_class,
                                 widest.action)  # fmt: skip
        else:
            merged.append(region)
    return merged


@dataclass(slots=True)
class _GuardState:
    """What the guard keeps per text of a stream: released tail, position, JSON state."""

    json: bool
    carry: str = ""  # the last CONTEXT characters released, scanned before each window
    decided: int = 0  # characters of this text released so far
    in_string: bool = False  # JSON: the next window starts inside a string
    next_try: int = 0  # undecided length before which a held text is not rescanned


@dataclass(frozen=True, slots=True)
class _Scan:
    key: TextKey
    undecided: str
    scanned: str  # carry + undecided
    carry: int
    findings: list[Finding]


class OutputGuardHook(TextWindowHook):
    """The stream hook applying an :class:`OutputGuard` (holds text until decided)."""

    moves_citations = True

    def __init__(self, guard: OutputGuard, clock: Callable[[], float] = time.monotonic) -> None:
        plan = guard.plan
        if plan.mode == "buffer":
            super().__init__(sys.maxsize)
        else:
            super().__init__(
                plan.window_chars + MARGIN,
                release_after_s=RELEASE_AFTER_S,
                min_release_chars=MARGIN + MIN_RELEASE,
                clock=clock,
            )
        self.guard = guard
        self.findings = guard.findings
        self._key: TextKey = (0, 0)
        self._texts: dict[TextKey, _GuardState] = {}
        self._last: _Scan | None = None
        self._unannounced: list[str] = []
        self._window_edits: list[Edit] = []  # the replacements of the window being decided

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        """Queue the event, decide what it completes, release what is decided."""
        return self._announce(super().on_event(event))

    def on_end(self) -> Sequence[StreamEvent]:
        """Decide all remaining text (a refusal raises here) and release the rest."""
        return self._announce(super().on_end())

    def _decide(self, key: TextKey, *, final: bool) -> None:
        # The base class decides one text at a time; the key tells which, for the
        # per-text state that on_window and hold_tail need.
        self._key = key
        super()._decide(key, final=final)

    def hold_tail(self, text: str) -> int:
        """Keep back the last ``MARGIN`` characters, any finding reaching into them and,
        for a URL, the markdown or HTML construct it opens; cut only where an event's
        text ends, so an unchanged window leaves its events as they came."""
        state = self._state(self._key)
        if len(text) <= MARGIN or len(text) < state.next_try:
            return len(text)
        scan = self._last = self._scan(text)
        cut, previous = len(text) - MARGIN, -1
        while cut != previous and cut > 0:  # each step only moves it back
            previous = cut
            cut = _cut(scan, cut)
            if state.json:
                cut = _escape_safe(text, cut)
            cut = self._event_boundary(cut)
        if cut <= 0:  # nothing can go yet: rescan only after the text grew by half
            state.next_try = len(text) + max(MIN_RELEASE, len(text) // 2)
            return len(text)
        return len(text) - cut

    def on_window(self, choice_index: int, text: str) -> str:
        """Decide one window of assistant text."""
        return self._window(text)

    def on_arguments_window(self, choice_index: int, text: str) -> str:
        """Decide one window of a tool call's JSON arguments."""
        return self._window(text)

    def _window(self, window: str) -> str:
        key = self._key
        state = self._state(key)
        scan = self._last
        if scan is None or scan.key != key or not scan.undecided.startswith(window):
            scan = self._scan(window)
        self._last = None
        end = scan.carry + len(window)
        findings = [finding for finding in scan.findings if finding.start < end]
        before = dict(self.guard.redacted)
        edits = self._window_edits
        edits.clear()
        out = self.guard.review(
            key,
            scan.scanned[:end],
            findings,
            carry=scan.carry,
            offset=state.decided - scan.carry,
            in_json=state.json,
            in_string=state.in_string,
            edits=None if state.json else edits,
        )
        if edits:  # the citations into this text move by what this window replaced
            self._record(key, state.decided, edits)
        if state.json:
            state.in_string = json_string_state(window, state.in_string)
        state.decided += len(window)
        state.carry = (state.carry + window)[-CONTEXT:]
        state.next_try = 0
        if out != window:
            for name, count in self.guard.redacted.items():
                if count != before.get(name) and name not in self._unannounced:
                    self._unannounced.append(name)
        return out

    def _scan(self, undecided: str) -> _Scan:
        carry = self._state(self._key).carry
        scanned = carry + undecided
        findings = self.guard.inspect(scanned)
        return _Scan(self._key, undecided, scanned, len(carry), findings)

    def _state(self, key: TextKey) -> _GuardState:
        state = self._texts.get(key)
        if state is None:
            # JSON: tool-call arguments, and a JSON answer's text (not its free texts)
            json_text = key[1] < 0 or (self.guard.json_answer and key[1] < FREE)
            state = self._texts[key] = _GuardState(json=json_text)
        return state

    def _event_boundary(self, cut: int) -> int:
        """The last end of an event's text of the current key at or before ``cut``
        (characters into its undecided text), read from the base class's queue."""
        decided = self._states[self._key].decided
        best = 0
        for _, fragments, _ in self._queue:
            for fragment in fragments:
                if fragment.key == self._key:
                    end = fragment.end - decided
                    if best < end <= cut:
                        best = end
        return best

    def _announce(self, released: Sequence[StreamEvent]) -> Sequence[StreamEvent]:
        """Put ``: bastion redacted=<classes>`` before the first rewritten event."""
        if not self._unannounced or not released:
            return released
        comment = StreamEvent.make_comment("bastion redacted=" + ",".join(self._unannounced))
        self._unannounced = []
        events = list(released)
        at = next((i for i, event in enumerate(events) if event.changed), 0)
        events.insert(at, comment)
        return events


def _cut(scan: _Scan, cut: int) -> int:
    """``cut`` moved back before every finding it would split (and, for a URL, before
    the ``[`` or ``<`` opening its construct on the same line); findings that began in
    text already released cannot be held and do not count."""
    carry = scan.carry
    spans = [
        (finding.start - carry, finding.end - carry, _is_bare_url(finding))
        for finding in scan.findings
        if finding.start >= carry
    ]
    moved = True
    while moved and cut > 0:
        moved = False
        for start, end, url in spans:
            if start < cut < end:
                cut = start
                moved = True
                if url:
                    cut = _construct_start(scan.undecided, cut)
    return max(cut, 0)


def _is_bare_url(finding: Finding) -> bool:
    return finding.data_class == "output.exfil_link" and finding.meta.get("kind") == "url"


def _construct_start(text: str, at: int) -> int:
    """Where a markdown or HTML construct holding the URL at ``at`` may begin."""
    line = max(text.rfind("\n", 0, at) + 1, at - _LOOKBACK)
    opening = max(text.rfind("[", line, at), text.rfind("<", line, at))
    return opening if opening >= 0 else at


def _escape_safe(text: str, cut: int) -> int:
    """``cut`` moved back so that it does not fall inside a JSON escape sequence."""
    at = text.rfind("\\", max(0, cut - 6), cut)
    if at < 0:
        return cut
    run = at
    while run > 0 and text[run - 1] == "\\":
        run -= 1
    if (at - run) % 2 == 1:  # the backslash at ``at`` is itself escaped: "\\"
        return cut
    length = 6 if text[at + 1 : at + 2] == "u" else 2
    return at if at + length > cut else cut
