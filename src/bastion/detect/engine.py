"""The fast tier's pattern engine: every pattern in one linear-time pass per text.

Patterns are compiled once into a few RE2 sets. Scanning a text runs each set once;
only the patterns a set reports are then run on their own (RE2 ``finditer``, still
linear) to get spans, and only those candidates meet their validator and context
scoring. RE2 guarantees linear time whatever the text, so no input can make a scan
backtrack (DESIGN.md: never a backtracking regex on request text).

Vendor credential formats (``secret.*`` but the keyword-driven ``secret.generic.*``),
and likewise the operator's custom classes and canaries, are not in a set: RE2's
prefilter (``FilteredRE2``) reduces each to the literals any match must contain
(``ghp_``, ``xoxb-``, ``AKIA``...), one literal pass over the text names the few
patterns worth running, and those run on their own. Two hundred and
fifty vendor formats in one set made a DFA whose states multiply on text that is
neither prose nor a credential (base64, hex dumps, logs of random ids): measured,
the set alone cost ~1.1 ms per 2 KB of base64 lines once warm and several times that
on first sight, and grew its state cache by megabytes per hundred such texts.

Context words are looked up around each span, but first, when a candidate pattern
requires context, one more set pass (``_ContextTerms``) says which patterns have no
context word anywhere in the text: those need neither their spans searched (when they
require context) nor their windows read.

Hyperscan (the ``hyperscan`` 0.9.1 wheel), which reports every match with its offsets
in one pass, was measured against these patterns and is not used: 22 of 364 do not
compile with start-of-match offsets ("Pattern is too large": e-mail, card, IBAN, the
long bounded repeats of token formats), building the database took 451 s, and one scan
of a 2 KB prose text took ~350 µs against ~50 µs for the RE2 sets' candidate pass
(2026-12-03, same machine and texts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from bastion.detect.patterns import Hit, Pattern, ascii_translation
from bastion.detect.spaces import may_hold_space

_MAX_MEM = 256 << 20  # RE2's DFA budget for the set; the default (8 MB) is too small
_VERDICTS = 4096  # validator results kept per engine
_AFTER_WINDOW = 32  # context words also count shortly after a value ("... is my SSN")
_SEARCHED_ALONE = 8  # prefiltered patterns searched one by one; with more, a set decides


class PatternCompileError(ValueError):
    """A pattern is not valid RE2 syntax (raised at build time, never per request)."""


_BREAKS = "!\"#$%&()*+,./:;<=>?@[\\]^_`{|}~\t\n\r-'"
_WORD_BREAKS = ascii_translation(str.maketrans(_BREAKS, " " * len(_BREAKS)))


_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)


def _low_level_match(regex: Any) -> Any:
    """The binding's C-level ``Match(anchor, bytes, pos, endpos)`` when it has one
    (google-re2 1.1); None makes the engine use the public ``finditer``."""
    match = getattr(getattr(regex, "_regexp", None), "Match", None)
    return match if callable(match) and _UNANCHORED is not None else None


@dataclass(frozen=True, slots=True)
class _Compiled:
    pattern: Pattern
    regex: Any  # re2's compiled regex (the binding ships no type stubs)
    match: Any  # its low-level Match, or None
    words: frozenset[str]  # single-word context, looked up in a set of nearby words
    phrases: tuple[str, ...]  # context with spaces or punctuation, found as substrings
    has_context: bool  # words or phrases (a field: read once per candidate span)


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _MAX_MEM
    return options


def _source(pattern: Pattern) -> str:
    return f"(?i){pattern.regex}" if pattern.case_insensitive else pattern.regex


def _partition(compiled: Sequence[_Compiled], skip: Iterable[int] = ()) -> list[list[int]]:
    """Pattern indexes (but ``skip``) grouped into RE2 sets by family and case sensitivity.

    One set for everything is fastest on ordinary prose, but its automaton multiplies
    states across unrelated patterns: on novel text (random bytes, say) building them
    cost ~3.4 ms per 2 KB, against ~1 ms for these few groups at the same speed on prose.
    """
    skipped = set(skip)
    groups: dict[tuple[str, bool], list[int]] = {}
    for index, entry in enumerate(compiled):
        if index not in skipped:
            family = entry.pattern.data_class.split(".", 1)[0]
            groups.setdefault((family, entry.pattern.case_insensitive), []).append(index)
    return list(groups.values())


_PREFILTERED = ("secret.", "custom.", "output.")


def _vendor_formats(compiled: Sequence[_Compiled]) -> list[int]:
    """Indexes of the patterns prefiltered by their literals: vendor credential formats,
    and the operator's custom classes and canaries (in a set of their own, a custom
    class's one pattern cost a whole pass of the text: ~4 µs per 2 KB, measured)."""
    return [
        index
        for index, entry in enumerate(compiled)
        if entry.pattern.data_class.startswith(_PREFILTERED)
        and not entry.pattern.data_class.startswith("secret.generic")
    ]


class _Group:
    """One RE2 set over some of the engine's patterns, with an end-of-text sentinel."""

    def __init__(self, members: list[int], compiled: Sequence[_Compiled], options: Any) -> None:
        self._set = re2.Set.SearchSet(options)
        self._members = members
        for index in members:
            self._set.Add(_source(compiled[index].pattern))
        self._sentinel = self._set.Add(r"\z")  # matches every text: its absence means failure
        try:
            self._set.Compile()
        except re2.error as exc:
            raise PatternCompileError(f"the pattern set does not compile: {exc}") from exc
        self._match_bytes = _low_level(self._set, "_set")

    def candidates(self, subject: str | bytes, compiled: Sequence[_Compiled]) -> list[int]:
        """Engine indexes of this group's patterns that match somewhere in ``subject``."""
        out: list[int] = []
        self.add_candidates(subject, compiled, out)
        return out

    def add_candidates(
        self, subject: str | bytes, compiled: Sequence[_Compiled], out: list[int]
    ) -> None:
        """Append to ``out`` the engine indexes of this group's patterns that match
        somewhere in ``subject``.

        RE2's set matcher answers "nothing" when its DFA runs out of memory (the binding
        cannot tell that from no match). The sentinel tells them apart; on failure each
        pattern is searched on its own (RE2 then falls back to its NFA), so a text built to
        exhaust the DFA is slower, never unscanned."""
        if type(subject) is bytes and self._match_bytes is not None:
            matched = self._match_bytes(subject)
        else:
            matched = self._set.Match(subject)
        sentinel = self._sentinel
        if matched and sentinel in matched:
            if len(matched) > 1:  # most texts match the sentinel alone: no list to build
                members = self._members
                out.extend([members[i] for i in matched if i != sentinel])
            return
        out.extend(i for i in self._members if compiled[i].regex.search(subject) is not None)


def _low_level(wrapper: Any, field: str) -> Any:
    """The binding's C-level ``Match`` under a ``re2.Set`` or ``re2.Filter`` (bytes only),
    or None: the wrapper's own frame and type checks cost ~0.15 µs a call (measured), and
    an engine scan makes five such calls however short the text."""
    match = getattr(getattr(wrapper, field, None), "Match", None)
    return match if callable(match) else None


class _Prefiltered:
    """Patterns run only where their literals occur (RE2's ``FilteredRE2``).

    ``candidates`` may name patterns that do not match (a literal occurs, the rest of
    the pattern does not): their search then finds nothing. It never leaves out one
    that matches. A pattern with no literal to require (RE2 finds none) cannot be
    prefiltered: ``members`` holds the others, and the engine's sets take the rest."""

    def __init__(self, members: list[int], compiled: Sequence[_Compiled], options: Any) -> None:
        every = _compiled_filter(members, compiled, options)
        passing = set(every.Match(b"", potential=True) or ()) if members else set()
        self.members = [index for i, index in enumerate(members) if i not in passing]
        self._filter = _compiled_filter(self.members, compiled, options)
        # many literals present (a file of keys): one set pass beats a search per pattern
        self._set = _Group(self.members, compiled, options) if self.members else None
        self._filter_bytes = _low_level(self._filter, "_filter")

    def candidates(self, subject: str | bytes, compiled: Sequence[_Compiled]) -> list[int]:
        """Engine indexes of the patterns whose literals occur in ``subject``."""
        if self._set is None:
            return []
        if type(subject) is bytes and self._filter_bytes is not None:
            potential = self._filter_bytes(subject, True)
        else:
            potential = self._filter.Match(subject, potential=True)
        if not potential:
            return []
        if len(potential) > _SEARCHED_ALONE:
            return self._set.candidates(subject, compiled)
        return [self.members[i] for i in potential]


def _compiled_filter(members: list[int], compiled: Sequence[_Compiled], options: Any) -> Any:
    prefilter = re2.Filter()
    for index in members:
        prefilter.Add(_source(compiled[index].pattern), options)
    if members:
        prefilter.Compile()
    return prefilter


class _ContextTerms:
    """Which patterns' context words occur nowhere in a text: one RE2 set pass.

    A pattern that requires context can then skip the search for its spans (each search
    reads the rest of the text again), and any pattern can skip reading the window around
    each span. Only ever a superset of the window test is looked for, so a pattern said to
    be absent would have found no context in any window: each context word as a substring,
    case-insensitively (RE2's case folding holds every one-character ``str.lower``, which
    the windows use), and of a phrase its longest space-free piece (a window joins the
    text before and after a value with a space, so a phrase may straddle that space, never
    a piece).
    """

    def __init__(self, compiled: Sequence[_Compiled], options: Any) -> None:
        owners: dict[str, list[int]] = {}
        unfiltered: set[int] = set()
        for index, entry in enumerate(compiled):
            if not entry.has_context:
                continue
            needles = [*entry.words, *(max(p.split(), key=len, default="") for p in entry.phrases)]
            if not all(needles):
                unfiltered.add(index)
            for needle in filter(None, needles):
                owners.setdefault(needle, []).append(index)
        self._filterable = frozenset(i for ids in owners.values() for i in ids) - unfiltered
        self._owners = tuple(tuple(ids) for ids in owners.values())
        self._set = re2.Set.SearchSet(options)
        for needle in owners:
            self._set.Add(f"(?i){re2.escape(needle)}")
        self._sentinel = self._set.Add(r"\z")
        self._set.Compile()
        self._match_bytes = _low_level(self._set, "_set")

    def absent(self, data: bytes) -> frozenset[int]:
        """Indexes of the patterns none of whose context words occur in ``data``; empty
        when RE2's DFA ran out of memory (nothing is then known to be absent)."""
        if self._match_bytes is not None:
            matched = self._match_bytes(data)
        else:
            matched = self._set.Match(data)
        if not matched or self._sentinel not in matched:
            return _NONE
        present: set[int] = set()
        owners = self._owners
        for term in matched:
            if term != self._sentinel:
                present.update(owners[term])
        return self._filterable.difference(present)


_NONE: frozenset[int] = frozenset()


class Engine:
    """Runs a fixed set of patterns over texts; build once, scan many (thread-safe)."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        options = _options()
        compiled: list[_Compiled] = []
        seen: set[str] = set()
        for pattern in patterns:
            if pattern.id in seen:
                raise PatternCompileError(f"duplicate pattern id {pattern.id!r}")
            seen.add(pattern.id)
            try:
                regex = re2.compile(_source(pattern), options)
            except re2.error as exc:  # the message names the RE2 construct it refused
                raise PatternCompileError(f"pattern {pattern.id}: {exc}") from exc
            lowered = [word.lower() for word in pattern.context]
            words = frozenset(w for w in lowered if w.translate(_WORD_BREAKS) == w and " " not in w)
            phrases = tuple(w for w in lowered if w not in words)
            match = _low_level_match(regex)
            context = bool(words or phrases)
            compiled.append(_Compiled(pattern, regex, match, words, phrases, context))
        self._compiled = tuple(compiled)
        self._vendors = _Prefiltered(_vendor_formats(compiled), compiled, options)
        self._groups = tuple(
            _Group(members, compiled, options)
            for members in _partition(compiled, self._vendors.members)
        )
        self._context = _ContextTerms(compiled, options)
        spaced = [i for i, entry in enumerate(compiled) if may_hold_space(entry.pattern)]
        self._spaced = _Group(spaced, compiled, options) if spaced else None
        self._needs_context = frozenset(
            i for i, entry in enumerate(compiled) if entry.pattern.requires_context
        )
        self._verdicts: dict[tuple[int, str], Mapping[str, str] | None] = {}

    def _candidates(self, subject: str | bytes) -> list[int]:
        """Indexes of the patterns that may match somewhere in ``subject``, ascending."""
        compiled = self._compiled
        out = self._vendors.candidates(subject, compiled)
        for group in self._groups:
            group.add_candidates(subject, compiled, out)
        if len(out) > 1:
            out.sort()
        return out

    def crosses(self, text: str, at: int) -> bool:
        """Whether some pattern matches ``text`` with a value holding the space at ``at``
        and a character on either side (``start < at < end - 1``, as a seam's split value).

        False means no hit of ``scan(text)`` does; True only that one may. Only patterns
        whose values can hold a space (``spaces``) are searched, one set pass first:
        across a seam of prose that is most often all there is to do."""
        if not 0 <= at < len(text) or text[at] != " ":
            return True
        if self._spaced is None:
            return False
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the scan itself will tell
            return True
        if len(data) != len(text):
            at = len(text[:at].encode("utf-8"))
        candidates = self._spaced.candidates(data, self._compiled)
        if not candidates:
            return False
        return any(start < at < end - 1 for _, start, end in self._raw_spans(data, candidates))

    def _validate(self, index: int, pattern: Pattern, value: str) -> Mapping[str, str] | None:
        """The validator's verdict, remembered: conversations resend their history, so the
        same values come back call after call (bounded; values never leave the process)."""
        key = (index, value)
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        assert pattern.validator is not None
        verdict = pattern.validator(value)
        if len(self._verdicts) >= _VERDICTS:
            self._verdicts.clear()
        self._verdicts[key] = verdict
        return verdict

    @property
    def patterns(self) -> tuple[Pattern, ...]:
        return tuple(c.pattern for c in self._compiled)

    def scan(self, text: str) -> list[Hit]:
        """Every validated match of every pattern, with its score (thresholds apply later)."""
        if not self._compiled or not text:
            return []
        spans, absent = self._spans(text)
        hits: list[Hit] = []
        nearby: dict[tuple[int, int, int], _Nearby] = {}  # sibling patterns share spans
        for index, start, end in spans:
            entry = self._compiled[index]
            pattern = entry.pattern
            found = 0 if index in absent else -1  # no context word anywhere in the text
            if found < 0 and pattern.requires_context:  # before the validator: cheap, decisive
                found = _context_words(_around(nearby, text, start, end, pattern), entry)
                if found == 0:
                    continue
            value = text[start:end]
            meta = pattern.meta
            if pattern.validator is not None:
                extra = self._validate(index, pattern, value)
                if extra is None:
                    continue
                if extra:
                    meta = {**meta, **extra}
            if found < 0:  # context only raises the score: looked up for valid values only
                found = 0
                if entry.has_context:
                    found = _context_words(_around(nearby, text, start, end, pattern), entry)
            score = min(1.0, pattern.score + found * pattern.context_boost)
            hits.append(Hit(pattern.data_class, start, end, score, pattern.id, value, meta))
        return hits

    def _spans(self, text: str) -> tuple[list[tuple[int, int, int]], frozenset[int]]:
        """(pattern index, start, end) in code points of every candidate match, and the
        patterns with no context word in ``text`` (``_ContextTerms``).

        RE2 runs on the UTF-8 bytes, encoded once: the binding's ``str`` path re-encodes
        and maps offsets on every match. Byte offsets become code points in one sorted
        pass (identical for ASCII text)."""
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: let the binding map offsets itself
            return self._raw_spans(text), _NONE
        candidates = self._candidates(data)
        absent = _NONE
        if not self._needs_context.isdisjoint(candidates):
            # measured on 2 KB of prose with one number: the pass costs ~4 µs and spares
            # three searches of the whole text and their windows (~15 µs)
            absent = self._context.absent(data)
        raw = self._raw_spans(data, candidates, absent)
        if len(data) == len(text) or not raw:
            return raw, absent
        chars = _char_offsets(data, {offset for _, s, e in raw for offset in (s, e)})
        return [(index, chars[s], chars[e]) for index, s, e in raw], absent

    def _raw_spans(
        self,
        subject: str | bytes,
        candidates: list[int] | None = None,
        absent: frozenset[int] = _NONE,
    ) -> list[tuple[int, int, int]]:
        """Spans of ``candidates`` (default: the patterns the sets name) in ``subject``,
        but for patterns that require context and are ``absent``: none of theirs count."""
        spans: list[tuple[int, int, int]] = []
        if candidates is None:
            candidates = self._candidates(subject)
        for index in candidates:
            entry = self._compiled[index]
            if index in absent and entry.pattern.requires_context:
                continue
            group = entry.pattern.group
            if isinstance(subject, bytes) and entry.match is not None:
                _find_all(entry.match, subject, group, index, spans)
                continue
            for match in entry.regex.finditer(subject):
                start, end = match.span(group)
                if start >= 0 and start != end:
                    spans.append((index, start, end))
        return spans


def _find_all(
    match: Any, data: bytes, group: int, index: int, spans: list[tuple[int, int, int]]
) -> None:
    """Append ``(index, start, end)`` of ``group`` in every successive match to ``spans``,
    through the binding's C ``Match`` (what ``finditer`` does for bytes, minus a
    generator and a match object per hit: about half the cost per match)."""
    position, end = 0, len(data)
    while position <= end:
        found = match(_UNANCHORED, data, position, end)
        whole = found[0]
        if whole[0] < 0:
            break
        start, stop = found[group]
        if start >= 0 and start != stop:
            spans.append((index, start, stop))
        position = whole[1] if whole[1] > position else position + 1


def _char_offsets(data: bytes, offsets: set[int]) -> dict[int, int]:
    """Code-point offsets of byte offsets that fall on character boundaries."""
    out: dict[int, int] = {}
    previous_byte = previous_char = 0
    for offset in sorted(offsets):
        previous_char += len(data[previous_byte:offset].decode("utf-8"))
        previous_byte = offset
        out[offset] = previous_char
    return out


def _lower(text: str) -> str:
    """Lower case, leaving the few letters that lower to two code points (e.g. "İ") alone."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


_Nearby = tuple[str, tuple[str, ...]]
"""The lower-cased text around a value, and its words: where context is looked up.
(Tuples of strings: the cyclic GC stops tracking them, unlike lists or sets.)"""


def _around(
    nearby: dict[tuple[int, int, int], _Nearby], text: str, start: int, end: int, pattern: Pattern
) -> _Nearby:
    """``_nearby`` of a span, computed once per span and window."""
    key = (start, end, pattern.context_window)
    around = nearby.get(key)
    if around is None:
        around = nearby[key] = _nearby(text, start, end, pattern.context_window)
    return around


def _nearby(text: str, start: int, end: int, window: int) -> _Nearby:
    """Only the window is lower-cased and split, never the whole text (for a 20 KB text
    with a few dozen candidates, lowering all of it cost more than every window)."""
    before = text[max(0, start - window) : start]
    lowered = _lower(f"{before} {text[end : end + _AFTER_WINDOW]}")
    return lowered, tuple(lowered.translate(_WORD_BREAKS).split())


def _context_words(nearby: _Nearby, entry: _Compiled) -> int:
    """How many of the pattern's context words or phrases occur near the value."""
    lowered, words = nearby
    found = len(entry.words.intersection(words))
    for phrase in entry.phrases:
        if phrase in lowered and _has_phrase(lowered, phrase):  # most are absent: no call
            found += 1
    return found


def _has_phrase(haystack: str, phrase: str) -> bool:
    """``phrase`` occurs in ``haystack`` not glued to letters on either side."""
    at = haystack.find(phrase)
    while at >= 0:
        left = haystack[at - 1] if at else " "
        right_at = at + len(phrase)
        right = haystack[right_at] if right_at < len(haystack) else " "
        if not left.isalpha() and not right.isalpha():
            return True
        at = haystack.find(phrase, at + 1)
    return False
