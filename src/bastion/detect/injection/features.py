"""Tokens and windows of the injection classifier, shared by inference and training.

A text becomes a list of tokens with a handful of ``bytes`` passes and one ``split`` (C
speed, no regex on request text): lower case, every digit read as ``0``, apostrophes dropped,
structural punctuation (``? ! : | < > [ ] { } # * / = @ $``) and line breaks kept as
tokens of their own, every other punctuation mark a space. Features are the tokens and
the pairs of adjacent tokens.

A window is ``size`` consecutive tokens; windows start every ``size // 2`` tokens, so
any run of up to half a window lies whole inside one window: a short instruction
diluted in a long benign text is still scored on its own neighbourhood. A window's
log-odds is ``bias + sum(weights of its tokens) + sum(weights of its pairs)``; with
prefix sums every window costs O(1) after one pass over the tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from itertools import accumulate, pairwise, repeat
from typing import Any

import re2

from bastion.detect.regions import SignalSet, utf8

NEWLINE = "¶"
_KEPT = b"?!:|<>[]{}#*/=@$"
_DROPPED = b"'`"
_UNICODE: tuple[tuple[bytes, bytes], ...] = tuple(
    (old.encode(), new.encode())
    for old, new in (
        ("\u2019", ""), ("\u2018", ""), ("\u201c", " "), ("\u201d", " "), ("\u00ab", " "),
        ("\u00bb", " "), ("\u2013", " "), ("\u2014", " "), ("\u2026", " "), ("\xa0", " "),
        ("\u2028", " "), ("\u2029", " "), ("\u3000", " "), ("\u202f", " "),
    )
)  # fmt: skip
_UNICODE_BY_LEAD: tuple[tuple[bytes, tuple[tuple[bytes, bytes], ...]], ...] = tuple(
    (lead, tuple(pair for pair in _UNICODE if pair[0].startswith(lead)))
    for lead in sorted({old[:2] for old, _ in _UNICODE})
)
_SPACED: tuple[tuple[bytes, bytes], ...] = (
    *((bytes([c]), b" " + bytes([c]) + b" ") for c in _KEPT),
    (b"\n", f" {NEWLINE} ".encode()),
)


def _byte_table() -> bytes:
    table = bytearray(range(256))
    for code in range(128):
        char = chr(code)
        if char.isdigit():
            table[code] = ord("0")
        elif not char.isalnum() and char != "\n" and code not in _KEPT:
            table[code] = ord(" ")
    return bytes(table)


_TABLE = _byte_table()


def tokens(text: str) -> list[bytes]:
    """The tokens of ``text`` as UTF-8 (see the module docstring)."""
    return _tokens(text.encode("utf-8", "surrogatepass"), text.isascii())


def _tokens(data: bytes, ascii: bool) -> list[bytes]:
    """Tokens of UTF-8 ``data``: ``bytes`` methods only, each one pass at C speed (ASCII
    lower case, other scripts keep theirs; a few ``replace`` calls for common non-ASCII
    punctuation; one ``translate`` for digits, punctuation and apostrophes; one
    ``replace`` per kept mark present)."""
    data = data.lower()
    if not ascii:
        for lead, group in _UNICODE_BY_LEAD:
            if lead in data:  # one scan per lead sequence, not one per character
                for old, new in group:
                    data = data.replace(old, new)
    data = data.translate(_TABLE, _DROPPED)
    for old, new in _SPACED:
        if old in data:
            data = data.replace(old, new)
    return data.split()


def pairs(words: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """Adjacent token pairs: pair ``i`` is ``(words[i], words[i + 1])``."""
    return list(pairwise(words))


def text_of(word: bytes) -> str:
    """A token as written in the weights file."""
    return word.decode("utf-8", "surrogatepass")


def pair_key(pair: tuple[bytes, bytes]) -> str:
    """How a pair is written in the weights file."""
    return f"{text_of(pair[0])} {text_of(pair[1])}"


def window_starts(count: int, size: int) -> range:
    """Start offsets of the windows over ``count`` tokens (at least one window)."""
    if count <= size:
        return range(1)
    step = max(size // 2, 1)
    return range(0, count - size + step, step)  # the last window may be shorter


def window_bounds(count: int, size: int) -> list[tuple[int, int]]:
    """``(start, end)`` token offsets of every window."""
    return [(start, min(start + size, count)) for start in window_starts(count, size)]


_TASK_VERBS = (
    "explain|describe|write|draft|compose|create|generate|list|provide|summari[sz]e|"
    "translate|tell|give|suggest|recommend|include|add|insert|mention|modify|replace|use|"
    "respond|reply|answer|discuss|outline|develop|design|share|name|identify|compare|"
    "define|analy[sz]e|calculate|convert|rewrite|spell|misspell|jumble|combine|substitute|"
    "encourage|emphasi[sz]e|highlight|promote|advise|offer|invite|remind|ask|stress|"
    "integrate|enhance|incorporate|embed|merge|append|ensure|make sure|begin|start|end|"
    "conclude|format|output|print|show|reveal|send|forward|visit|click|download|ignore|"
    "disregard|forget|pretend|act|imagine|say|repeat|praise|criticize|advertise"
)
_OPENERS = (
    r"(?:please,? |now,? |also,? |kindly )?(?:" + _TASK_VERBS + r"|what|how|why|who|when|"
    r"where|which|can you|could you|would you|is there|are there|do you|does|did)\b"
)
MARKERS: tuple[tuple[str, str], ...] = (
    # a line that tells the reader to do something or asks something, inside a table:
    # between two rows, or before the first / after the last row of a text that is a
    # table (a request in a paragraph next to a table is ordinary prose)
    (
        "table_task",
        r"(?im)\|[ \t]*\n+[ \t]*"
        + _OPENERS
        + r"[^|\n]*\n+[ \t]*\||\A\s*"
        + _OPENERS
        + r"[^|\n]*\n+[ \t]*\||\|[ \t]*\n+[ \t]*"
        + _OPENERS
        + r"[^|\n]*\s*\z",
    ),
    # a sentence that opens with a task verb: someone is being told to do something
    (
        "task_sentence",
        r"(?im)(?:^|[.!?:]\s+|\|\s*)(?:please,? |now,? |also,? |kindly )?"
        r"(?:" + _TASK_VERBS + r")\b",
    ),
    # a question put to the reader
    (
        "question",
        r"(?im)(?:^|[.!?:]\s+|\|\s*)(?:what|how|why|who|when|where|which|can you|"
        r"could you|would you|will you|is there|are there|do you|does|did)\b[^.!?\n]{3,160}\?",
    ),
    # code that runs commands or sends data somewhere
    (
        "code_exec",
        r"\b(?:os\.system|subprocess|requests\.(?:post|get)|urllib|eval\(|exec\(|"
        r"curl |wget |socket\.)",
    ),
    ("url", r"(?i)\bhttps?://|\bwww\.[a-z0-9-]+\.[a-z]"),
)
"""Structural features the words alone do not show: ``(name, RE2 pattern)``. Each match
adds the feature ``MARK + name`` at the token where it starts (``MARK`` is a character
the tokeniser never keeps, so no text can spell a marker)."""
MARK = "\x00"


class MarkerSet:
    """Finds ``MARKERS`` in a text: one RE2 set pass, then spans for those present."""

    def __init__(self) -> None:
        self._set = SignalSet([regex for _, regex in MARKERS])
        self._compiled: tuple[Any, ...] = tuple(re2.compile(regex) for _, regex in MARKERS)

    def tokens(
        self, text: str, raw: bytes | None = None
    ) -> tuple[list[bytes], list[tuple[int, str]]]:
        """The text's tokens, and ``(token index, feature)`` of every marker match.

        The text is tokenised piece by piece, cut where markers start (a line start, a
        sentence end, a pipe, a word boundary: never inside a token), so the markers'
        token positions come with the one tokenisation the scorer needs anyway."""
        data = utf8(text) if raw is None else raw
        ascii = text.isascii()
        present = self._set.present(data)
        if not present:
            return _tokens(data, ascii), []
        starts: list[tuple[int, str]] = []
        for index in present:  # on the bytes: byte offsets, cut at character boundaries
            name = MARK + MARKERS[index][0]
            starts.extend((match.start(), name) for match in self._compiled[index].finditer(data))
        starts.sort()
        words: list[bytes] = []
        found: list[tuple[int, str]] = []
        done = 0
        for start, name in starts:
            if start > done:
                words.extend(_tokens(data[done:start], ascii))
                done = start
            found.append((len(words), name))
        words.extend(_tokens(data[done:], ascii))
        return words, found


@cache
def markers() -> MarkerSet:
    """The marker set, compiled once per process."""
    return MarkerSet()


class WindowScorer:
    """Log-odds of every window of a token list under one linear model."""

    __slots__ = ("_bias", "_pairs", "_size", "_words")

    def __init__(
        self, bias: float, words: Mapping[str, float], pair_weights: Mapping[str, float], size: int
    ) -> None:
        """``words`` and ``pair_weights`` as in the weights file (pairs as ``"a b"``)."""
        self._bias = bias
        self._words = {key.encode("utf-8", "surrogatepass"): w for key, w in words.items()}
        self._pairs: dict[tuple[bytes, ...], float] = {
            tuple(part.encode("utf-8", "surrogatepass") for part in key.split(" ", 1)): w
            for key, w in pair_weights.items()
        }
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def scores(
        self, words: Sequence[bytes], found: Sequence[tuple[int, str]] = ()
    ) -> list[tuple[float, int, int]]:
        """``(log-odds, start, end)`` of each window (token offsets); ``found`` are the
        text's markers (``MarkerSet.find``)."""
        count = len(words)
        lookups: Iterator[float] = map(self._words.get, words, repeat(0.0, count))
        if found:
            values = list(lookups)
            for position, name in found:
                if position < count:
                    values[position] += self._words.get(name.encode(), 0.0)
            lookups = iter(values)
        unigram = list(accumulate(lookups, initial=0.0))
        bigram = list(
            accumulate(map(self._pairs.get, pairwise(words), repeat(0.0, count)), initial=0.0)
        )
        bias = self._bias
        size = self._size
        if count <= size:
            return [(bias + unigram[count] + bigram[-1], 0, count)]
        step = size // 2
        last = range(0, count - size + step, step)[-1]  # the only window that may be short
        pair_end = size - 1
        out = [
            (
                bias + unigram[start + size] - unigram[start] + bigram[start + pair_end]
                - bigram[start],
                start,
                start + size,
            )
            for start in range(0, last, step)
        ]  # fmt: skip
        end = min(last + size, count)
        out.append(
            (bias + unigram[end] - unigram[last] + bigram[end - 1] - bigram[last], last, end)
        )
        return out
