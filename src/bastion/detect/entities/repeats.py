"""Later mentions of a name already found: "Faina D. Yefremova ... early Yefremova".

A word of a confident full name, standing alone elsewhere in the text, is very likely the
same person. Short texts are searched once per such word (at most ``_MAX_REPEAT_WORDS``);
long ones in one pass over the probe's words, so the cost stays linear in the text.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

from bastion.detect.entities.lexicon import COMMON_WORDS, TITLES
from bastion.detect.entities.probe import Probe
from bastion.detect.entities.runs import token_key
from bastion.detect.entities.scanning import char_offsets

_MAX_REPEAT_WORDS = 16
_FIND_CHARS = 4096  # up to this length a text is searched once per repeated word


def add_repeats(
    text: str,
    found: dict[tuple[int, int], float],
    seen: Probe | None,
    confident: float,
    score: float,
) -> None:
    """Add to ``found`` (span → score) the later bare mentions, at ``score``, of a word of
    a full name found at ``confident`` or more ("... early Yefremova")."""
    words: set[str] = set()
    for (start, end), value in found.items():
        parts = text[start:end].split()
        if value >= confident and len(parts) >= 2:
            for part in parts:
                word = part.removesuffix("'s").removesuffix("\u2019s").rstrip(".,")
                if len(word) > 2 and word[:1].isupper() and not word.isupper():
                    words.add(word)
    words = {w for w in words if token_key(w) not in COMMON_WORDS and token_key(w) not in TITLES}
    if not words:
        return
    spans_ = sorted(found)
    starts = [s for s, _ in spans_]
    ends = [e for _, e in spans_]
    for word, at in _mentions(text, sorted(words)[:_MAX_REPEAT_WORDS], seen):
        end = at + len(word)
        k = bisect_right(starts, at) - 1
        inside = k >= 0 and ends[k] > at and (starts[k], ends[k]) != (at, end)
        if not inside and _bounded(text, at, end):
            found[(at, end)] = max(found.get((at, end), 0.0), score)


def _mentions(text: str, words: list[str], seen: Probe | None) -> Iterator[tuple[str, int]]:
    """``(word, offset)`` of each occurrence of ``words``: by ``str.find`` in a short text,
    by one pass over the probe's words in a long one (whole words and possessives)."""
    if seen is None or len(text) <= _FIND_CHARS:
        for word in words:
            if text.count(word) < 2:  # the name itself, and no later mention
                continue
            at = text.find(word)
            while at >= 0:
                yield word, at
                at = text.find(word, at + len(word))
        return
    forms: dict[bytes, str] = {}
    for word in words:
        for suffix in ("", "'s", "\u2019s"):
            forms[(word + suffix).encode()] = word
    found = seen.where(frozenset(forms))
    data = text.encode("utf-8", "replace")
    offsets = [at for at, _ in found]
    if len(data) != len(text):
        offsets = char_offsets(data, offsets)
    for at, (_, form) in zip(offsets, found, strict=True):
        yield forms[form], at


def _bounded(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or after.isalnum() or before in "-_@" or after in "-_@")
