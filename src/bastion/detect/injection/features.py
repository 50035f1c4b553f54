"""Tokens and windows of the injection classifier, shared by inference and training.

A text becomes a list of tokens with a handful of ``bytes`` passes and one ``split`` (C
speed, no regex on request text): lower case, every digit read as ``0``, apostrophes dropped,
structural punctuation (``? ! : | < > [ ] { } # * / = @ $``) and line breaks kept as
tokens of their own, every other punctuation mark a space. Features are the tokens and
the pairs of adjacent tokens.

The kept marks, line breaks and markers are *counted* features: a pasted HTML page, a
list of addresses or a log holds hundreds of ``<``, ``@`` or line breaks, and as plain
counts in a linear model they would carry any text to any score. In a window each
counts in full up to ``KNEE``, then grows as a logarithm, and never past ``CEILING``
(``saturate``): a retrieved page of mojibake (``???? ???``) holds a ``?`` for every
other token. A pair of two counted tokens (``< /``, ``@ @``) is no feature at all.
Words and other pairs count linearly.

A window is ``size`` consecutive tokens; windows start every ``size // 2`` tokens, so
any run of up to half a window lies whole inside one window: a short instruction
diluted in a long benign text is still scored on its own neighbourhood. A window's
log-odds is ``bias + sum(weights of its tokens) + sum(weights of its pairs)`` with each
counted feature's weight times ``saturate`` of its count: each token's and each pair's
weight is looked up once, and sums over blocks of tokens that overlapping windows share
make every window O(1) after that one pass; a counted feature seen more than ``KNEE``
times close together then corrects the windows that hold it that often. A long text
(``VECTOR_FROM`` tokens or more) does that with arrays after one dictionary lookup per
token; both paths give the same log-odds but for rounding.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from itertools import accumulate, islice, pairwise, repeat, zip_longest
from math import gcd, log1p
from operator import sub
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
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
_FOLDS: tuple[tuple[bytes, bytes, dict[bytes, bytes]], ...] = tuple(
    (lead[:1], lead, {old[-1:]: new for old, new in _UNICODE if old[:-1] == lead})
    for lead in sorted({old[:-1] for old, _ in _UNICODE})
)
"""``_UNICODE`` by lead bytes (all but the last): ``(first byte, lead, {last byte: new})``."""
DROPPED: frozenset[str] = frozenset(
    [chr(code) for code in _DROPPED] + [old.decode() for old, new in _UNICODE if not new]
)
"""Characters the tokeniser deletes: the tokens on either side of one join up."""
_SPACED: tuple[tuple[bytes, bytes], ...] = (
    *((bytes([c]), b" " + bytes([c]) + b" ") for c in _KEPT),
    (b"\n", f" {NEWLINE} ".encode()),
)
"""The kept marks and the line break: each becomes a token of its own."""
_NOT_SPACED = bytes(sorted(set(range(256)) - {old[0] for old, _ in _SPACED}))
_NEWLINE = NEWLINE.encode()
COUNTED: frozenset[bytes] = frozenset([*(bytes([c]) for c in _KEPT), _NEWLINE])
"""The counted tokens: the kept marks and the line break (markers are counted too)."""
KNEE = 2
"""A counted feature counts in full up to this many times per window (``saturate``)."""
CEILING = 4.0
"""A counted feature's value in a window never exceeds this (``saturate``): however many
``?`` a window holds, they weigh as four."""
_LOG_ROOM = CEILING - KNEE
"""How much the logarithm past the knee may add."""


def saturate(count: int) -> float:
    """A counted feature's value in a window that holds it ``count`` times: the count up
    to ``KNEE``, then ``KNEE + ln(1 + count - KNEE)``, at most ``CEILING`` (from nine
    on). Bounded, not only sublinear: a logarithm still grows, and a mark that a window
    holds dozens of times would still outweigh every word beside it.
    """
    excess = count - KNEE
    return float(count) if excess <= 0 else KNEE + min(log1p(excess), _LOG_ROOM)


def counted(feature: str) -> bool:
    """Whether a token or marker of the weights file is a counted feature."""
    return feature.startswith(MARK) or feature.encode("utf-8", "surrogatepass") in COUNTED


def counted_pair(feature: str) -> bool:
    """Whether a pair (``"a b"``) is two counted tokens: no feature of the model."""
    first, _, second = feature.partition(" ")
    return bool(second) and counted(first) and counted(second)


def _byte_table() -> bytes:
    """ASCII lower case, every digit ``0``, punctuation but the kept marks a space."""
    table = bytearray(range(256))
    for code in range(128):
        char = chr(code)
        if char.isdigit():
            table[code] = ord("0")
        elif char.isalpha():
            table[code] = ord(char.lower())
        elif char != "\n" and code not in _KEPT:
            table[code] = ord(" ")
    return bytes(table)


_TABLE = _byte_table()


def tokens(text: str) -> list[bytes]:
    """The tokens of ``text`` as UTF-8 (see the module docstring)."""
    return _tokens(text.encode("utf-8", "surrogatepass"), text.isascii())


def _tokens(data: bytes, ascii: bool) -> list[bytes]:
    """Tokens of UTF-8 ``data`` (``ascii``: whether it is ASCII)."""
    return _normalised(data, ascii)[0].split()


def _normalised(data: bytes, ascii: bool) -> tuple[bytes, bytes]:
    """``data`` with its tokens between spaces: ``bytes`` methods only, each one pass at C
    speed (common non-ASCII punctuation folded where its lead byte occurs at all; one
    ``translate`` for ASCII lower case, digits, punctuation and apostrophes, other scripts
    keeping their case; one to find the kept marks present, one ``replace`` for each).
    Byte by byte but for the folded punctuation, so a byte outside UTF-8 (``_CUT``) stays
    put. Also returns the kept marks and line breaks it found (``Tokenised.marks``; a
    literal pilcrow counts as a line break)."""
    if not ascii:  # the folded sequences are not ASCII: folding commutes with the table
        data = _fold_punctuation(data)
    data = data.translate(_TABLE, _DROPPED)
    marks = data.translate(None, _NOT_SPACED)  # the kept marks alone: short, or empty
    if not ascii and _NEWLINE in data:  # the text's own pilcrows are the same token
        marks += b"\n" * data.count(_NEWLINE)
    if marks:
        for old, new in _SPACED:
            if old in marks:
                data = data.replace(old, new)
    return data, marks


def _fold_punctuation(data: bytes) -> bytes:
    """``data`` with every ``_UNICODE`` sequence replaced. Text without a sequence's first
    byte pays one ``memchr``; otherwise one split at its lead bytes and a step per
    occurrence, or (dense text) one ``replace`` per sequence."""
    for first, lead, table in _FOLDS:
        if first not in data:
            continue
        parts = data.split(lead)
        if len(parts) == 1:
            continue
        if len(parts) > len(data) >> 5:  # dense: C-speed replaces beat a step per occurrence
            for last, new in table.items():
                data = data.replace(lead + last, new)
            continue
        out = [parts[0]]
        for part in islice(parts, 1, None):
            folded = table.get(part[:1])
            if folded is None:
                out += (lead, part)
            else:
                out += (folded, part[1:])
        data = b"".join(out)
    return data


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
    # a question (and what follows it on its line: marks, a scale, a blank) with a line
    # that opens another question at most four lines on, no question between: a page of
    # questions (an FAQ, a survey, a quiz, a form) asked by or of its human readers; a
    # question put to the assistant stands alone. The match stops before the next
    # question's own mark, so that question can start the next match: one per question
    (
        "question_list",
        r"(?im)\?[^\n?]{0,40}\n(?:[^\n?]*\n){0,4}[ \t]*(?:(?:q(?:uestion)?[ \t]*)?"
        r"\d{1,3}[.):]?[ \t]+|q[ \t]*[:.][ \t]*|[-*>#][ \t#]*|\*\*|\|[ \t]*)?"
        r"(?:what|how|why|who|when|where|which|can|could|would|will|is|are|do|does|did|"
        r"should|may|have|has|was|were|am)\b",
    ),
    # a question in the asker's own voice (I, my, we, our): a customer, a student or a
    # forum member asking about their own affairs, as help pages and tickets quote them
    (
        "own_question",
        r"(?i)\b(?:what|how|why|who|when|where|which|can|could|would|will|is|are|do|does|"
        r"did|should|may|have|has|was|were|am)\b[^.!?\n]{0,120}?\b(?:i|my|we|our|us|mine)\b"
        r"[^.!?\n]{0,120}\?",
    ),
    # three question marks in a row: a blank, a lost answer or a placeholder, or text whose
    # script was lost to an encoding failure; no sentence asks anything that way
    ("unknown_run", r"\?\?\?"),
)
"""Structural features the words alone do not show: ``(name, RE2 pattern)``. Each match
adds the feature ``MARK + name`` at the token where it starts (``MARK`` is a character
the tokeniser never keeps, so no text can spell a marker)."""
MARK = "\x00"
DATA_ONLY: frozenset[str] = frozenset(
    MARK + name for name in ("question_list", "own_question", "unknown_run")
)
"""Markers only the data reading weighs: in a prompt, a page of questions or blanks is the
user's own text, and the direct reading has no use for telling it apart."""
MARKER_REGEXES: tuple[str, ...] = tuple(regex for _, regex in MARKERS)


class Tokenised(NamedTuple):
    """A text's tokens, its markers, and where its tokenisation was cut. A tuple: every
    scanned text makes one (a frozen dataclass took ~1.2 µs more to build)."""

    words: list[bytes]
    found: list[tuple[int, str]]
    """``(token index, feature)`` of every marker match."""
    anchors: tuple[tuple[int, int], ...] = ()
    """``(token index, byte offset)`` of every cut, in text order: the text's tokens from
    that byte on are the tokens from that index on (``offsets.token_char_spans``)."""
    marks: bytes | None = None
    """At least the text's counted tokens, a byte each (``\\n`` for a line break), from
    the tokeniser's own pass: ``WindowScorer`` looks for repeats only among marks found
    here more than ``KNEE`` times. ``None``: not known, every counted token is looked at."""


_CUT = b"\xff"
"""Marks a cut in a text normalised whole: a byte that UTF-8 never holds and that every
normalising step keeps where it is."""


class MarkerSet:
    """Finds ``MARKERS`` in a text: one RE2 set pass, then spans for those present."""

    def __init__(self, names: Iterable[str] | None = None) -> None:
        """``names``: only these markers (``None``: all of ``MARKERS``), in table order."""
        chosen = [(name, regex) for name, regex in MARKERS if names is None or name in names]
        self.regexes: tuple[str, ...] = tuple(regex for _, regex in chosen)
        """The chosen markers' patterns: ``tokenise``'s ``present`` indexes them."""
        self._names = tuple(MARK + name for name, _ in chosen)
        self._set = SignalSet(self.regexes)
        self._compiled: tuple[Any, ...] = tuple(re2.compile(regex) for regex in self.regexes)

    def tokens(
        self, text: str, raw: bytes | None = None
    ) -> tuple[list[bytes], list[tuple[int, str]]]:
        """The text's tokens, and ``(token index, feature)`` of every marker match."""
        tokenised = self.tokenise(text, raw)
        return tokenised.words, tokenised.found

    def tokenise(
        self, text: str, raw: bytes | None = None, present: Iterable[int] | None = None
    ) -> Tokenised:
        """The text's tokens, its markers and its cuts (``raw``: the text's UTF-8).

        The text is tokenised piece by piece, cut where markers start (a line start, a
        sentence end, a pipe, a word boundary: never inside a token), so the markers' token
        positions come with the one tokenisation the scorer needs anyway. ``present``:
        indices into ``MARKERS`` of the markers in the text, when the caller's own RE2 set
        pass found them."""
        data = utf8(text) if raw is None else raw
        ascii = text.isascii()
        if present is None:
            present = self._set.present(data)
        starts: list[tuple[int, str]] = []
        kinds = 0  # markers with a match
        for index in present:  # on the bytes: byte offsets, cut at character boundaries
            at = _match_starts(self._compiled[index], data)
            if at:
                starts += zip(at, repeat(self._names[index]))
                kinds += 1
        if not starts:
            whole, marks = _normalised(data, ascii)
            return Tokenised(whole.split(), [], (), marks)
        if kinds > 1:  # in text order; two markers may start at one cut
            starts.sort()
            cuts = sorted({start for start, _ in starts})
        else:  # one marker (most text): its starts ascend and differ already
            cuts = [start for start, _ in starts]
        pieces = [data[start:end] for start, end in pairwise([0, *cuts, len(data)])]
        # normalised in one go, then split at the cuts: tokenising piece by piece but
        # for the split of each piece
        joined, marks = _normalised(_CUT.join(pieces), ascii)
        normal = joined.split(_CUT)
        words = normal[0].split()
        firsts: list[int] = []  # the token index of each cut
        for piece in islice(normal, 1, None):
            firsts.append(len(words))
            words += piece.split()
        if kinds > 1:
            position = dict(zip(cuts, firsts, strict=True))
            found = [(position[start], name) for start, name in starts]
        else:  # ~1.3 us of a 2 KB prompt's 24 (no sort, set or dictionary of its cuts)
            found = list(zip(firsts, repeat(starts[0][1])))
        return Tokenised(words, found, tuple(zip(firsts, cuts, strict=True)), marks)


_FEW_MARKS = 64
"""Below this many marks in a text, its distinct marks are found with a ``set``."""


def _dense(positions: Sequence[int], size: int) -> bool:
    """Whether ``KNEE + 1`` of the sorted ``positions`` lie closer than ``size``: only then
    can a window hold more than ``KNEE`` of them."""
    return any(map(size.__gt__, map(sub, positions[KNEE:], positions)))


def _positions(words: Sequence[bytes], token: bytes) -> list[int]:
    """Where ``token`` is in ``words``: ``list.index`` scans at C speed between hits."""
    out: list[int] = []
    index = words.index
    at = -1
    try:
        while True:
            at = index(token, at + 1)
            out.append(at)
    except ValueError:
        return out


def _match_starts(regex: Any, data: bytes) -> list[int]:
    """Byte offsets where ``regex``'s matches in ``data`` start, as ``finditer`` finds
    them, through the binding's C-level ``Match`` (``finditer`` makes a match object per
    hit, which costs several times the search itself)."""
    search, unanchored = regex._regexp.Match, re2._Anchor.UNANCHORED
    starts: list[int] = []
    pos, size = 0, len(data)
    while True:
        start, end = search(unanchored, data, pos, size)[0]
        if start < 0:
            return starts
        starts.append(start)
        if pos == size:
            return starts
        pos = pos + 1 if end == pos else end  # an empty match at ``pos``: step past it


VECTOR_FROM = 640
"""Texts of at least this many tokens are scored with arrays (``WindowScorer``): a fixed
cost of some microseconds, then about two thirds of the per-token cost of the scalar path,
which stays faster below ~600 tokens (a 2 KB prompt has ~400)."""
_ID_SPAN = 1 << 31
"""A pair's code is ``first id * _ID_SPAN + second id`` (int64; ids are below 2**31)."""


@cache
def markers(names: frozenset[str] | None = None) -> MarkerSet:
    """The set of the markers ``names`` (``None``: every marker, as training reads a text),
    compiled once per process. A detector looks only for the markers its model weighs."""
    return MarkerSet(names)


class WindowScorer:
    """Log-odds of every window of a token list under one linear model."""

    __slots__ = (
        "_bias", "_close_from", "_close_to", "_codes", "_counted", "_features", "_id_type", "_ids",
        "_markers", "_number", "_open_to", "_opening", "_pair_weights", "_pairs", "_size",
        "_unigram", "_unknown", "_vector_from", "_words",
    )  # fmt: skip

    def __init__(
        self,
        bias: float,
        words: Mapping[str, float],
        pair_weights: Mapping[str, float],
        size: int,
        *,
        vector_from: int = VECTOR_FROM,
    ) -> None:
        """``words`` and ``pair_weights`` as in the weights file (pairs as ``"a b"``);
        texts of at least ``vector_from`` tokens are scored by the array path. A pair of
        two counted tokens is ignored (``counted_pair``)."""
        if size < 1:
            raise ValueError(f"injection weights: window size {size} < 1")
        self._bias = bias
        self._words = {key.encode("utf-8", "surrogatepass"): w for key, w in words.items()}
        # the same weights by the weights file's keys: a marker's weight without encoding
        # its name on every call
        self._features = {text_of(key): w for key, w in self._words.items()}
        self._pairs: dict[tuple[bytes, ...], float] = {
            tuple(part.encode("utf-8", "surrogatepass") for part in key.split(" ", 1)): w
            for key, w in pair_weights.items()
            if not counted_pair(key)
        }
        # counted tokens with a weight, by the byte ``Tokenised.marks`` holds for them
        self._counted = tuple(
            (token, ord("\n") if token == _NEWLINE else token[0], self._words[token])
            for token in sorted(COUNTED)
            if self._words.get(token)
        )
        self._markers = {key: w for key, w in words.items() if key.startswith(MARK) and w}
        # a known pair with its first token's weight: one lookup gives a position's whole
        # weight (its token and the pair it opens), the token's weight being the default
        self._opening = {pair: self._words.get(pair[0], 0.0) + w for pair, w in self._pairs.items()}
        self._size = size
        self._vector_from = vector_from
        # the array path: every known token (alone or in a pair) has an id, written as the
        # 2 (or 4) bytes of a little-endian integer so that one ``join`` of the looked-up ids
        # is the id array. Ids run: tokens that only open a pair, tokens that open and close
        # one, tokens that only close one, other tokens, and last any unknown token; so
        # "may open a pair" and "may close one" are comparisons with two bounds.
        opens = dict.fromkeys(first for first, _ in self._pairs)
        closes = dict.fromkeys(second for _, second in self._pairs)
        only_open = [word for word in opens if word not in closes]
        both = [word for word in opens if word in closes]
        only_close = [word for word in closes if word not in opens]
        rest = [word for word in self._words if word not in opens and word not in closes]
        order = [*only_open, *both, *only_close, *rest]
        ids = {word: index for index, word in enumerate(order)}
        width = 2 if len(order) < 1 << 16 else 4  # the fewer bytes, the faster the join
        self._id_type = "<u2" if width == 2 else "<i4"
        self._ids = {word: index.to_bytes(width, "little") for word, index in ids.items()}
        self._number = ids
        self._unknown = len(order).to_bytes(width, "little")
        self._open_to = len(only_open) + len(both)  # ids below open a pair
        self._close_from = len(only_open)  # ids from here up to _close_to close one
        self._close_to = self._open_to + len(only_close)
        unigram = np.zeros(len(order) + 1)
        for word, weight in self._words.items():
            unigram[ids[word]] = weight
        self._unigram = unigram
        coded = sorted(
            (ids[first] * _ID_SPAN + ids[second], w) for (first, second), w in self._pairs.items()
        )
        self._codes = np.array([code for code, _ in coded], dtype=np.int64)
        self._pair_weights = np.array([w for _, w in coded], dtype=np.float64)

    @property
    def size(self) -> int:
        return self._size

    @property
    def markers(self) -> frozenset[str]:
        """The names (without ``MARK``) of the markers this model weighs."""
        return frozenset(key.removeprefix(MARK) for key in self._markers)

    def log_odds(
        self,
        words: Sequence[bytes],
        found: Sequence[tuple[int, str]] = (),
        marks: bytes | None = None,
    ) -> list[float]:
        """The log-odds of each window, in the order of ``window_starts(len(words), size)``;
        ``found`` are the text's markers and ``marks`` its counted tokens
        (``MarkerSet.tokenise``; ``None``: look for every counted token).

        Position ``i`` weighs its token, its markers and the pair ``(words[i], words[i +
        1])``: a window is the sum of its positions minus the pair that leaves it. Two
        dictionary lookups per position and sums over blocks of ``gcd(step, size)``
        positions, all in C loops; every window is a whole number of blocks, O(1) from the
        blocks' prefix sums. Counted features enter those sums linearly; a window holding
        one of them more than ``KNEE`` times is then corrected (``_repeated``)."""
        count = len(words)
        size = self._size
        if count > size and count >= self._vector_from:
            return self._log_odds_vector(words, found, marks)
        windows = self._linear_log_odds(words, found)
        if marks is not None and len(marks) <= KNEE:  # no counted token can repeat past the knee
            if len(found) <= KNEE:
                return windows  # nor a marker (a short text: ~0.6 us saved)
            repeated = self._repeated_markers(found, count)  # prose: a few task sentences
        else:
            repeated = self._repeated(words, found, marks)
        if repeated:
            starts = window_starts(count, size)
            for weight, positions in repeated:
                for index, start in enumerate(starts):
                    held = bisect_left(positions, start + size) - bisect_left(positions, start)
                    if held > KNEE:
                        windows[index] += weight * (saturate(held) - held)
        return windows

    def _repeated(
        self, words: Sequence[bytes], found: Sequence[tuple[int, str]], marks: bytes | None
    ) -> list[tuple[float, list[int]]]:
        """``(weight, sorted token positions)`` of each counted feature with a weight that
        some window holds more than ``KNEE`` times (``KNEE + 1`` occurrences closer than a
        window), counted tokens first (``_repeat_candidates``), then markers."""
        spans: list[tuple[float, list[int]]] = []
        for token, _, weight in self._repeat_candidates(marks):
            positions = _positions(words, token)
            if _dense(positions, self._size):
                spans.append((weight, positions))
        spans += self._repeated_markers(found, len(words))
        return spans

    def _repeated_arrays(
        self, ids: npt.NDArray[Any], found: Sequence[tuple[int, str]], marks: bytes | None
    ) -> list[tuple[float, npt.NDArray[np.intp]]]:
        """``_repeated`` of the array path, from the token ids: the positions stay arrays
        (a log holds a ``/`` or a ``=`` hundreds of times: as lists, converting them and
        checking them in Python cost more than the rest of its correction)."""
        spans: list[tuple[float, npt.NDArray[np.intp]]] = []
        for token, _, weight in self._repeat_candidates(marks):
            positions = np.flatnonzero(ids == self._number[token])
            close = positions[KNEE:] - positions[: max(positions.size - KNEE, 0)]
            if (close < self._size).any():  # ``_dense``
                spans.append((weight, positions))
        for weight, at in self._repeated_markers(found, ids.size):
            spans.append((weight, np.array(at, dtype=np.intp)))
        return spans

    def _repeat_candidates(self, marks: bytes | None) -> tuple[tuple[bytes, int, float], ...]:
        """The counted tokens with a weight that may repeat: marks that ``marks`` holds
        ``KNEE`` times or fewer are not looked for (prose pays a few ``bytes.count`` calls
        on an empty or short string); every one when ``marks`` is not known."""
        if marks is None:
            return self._counted
        if len(marks) <= KNEE:
            return ()
        # a short ``marks`` (most text): only the marks present are counted
        present = set(marks) if len(marks) < _FEW_MARKS else None
        return tuple(
            entry
            for entry in self._counted
            if (present is None or entry[1] in present) and marks.count(entry[1]) > KNEE
        )

    def _repeated_markers(
        self, found: Sequence[tuple[int, str]], count: int
    ) -> list[tuple[float, list[int]]]:
        """``(weight, sorted token positions)`` of each marker with a weight that some
        window holds more than ``KNEE`` times."""
        spans: list[tuple[float, list[int]]] = []
        size = self._size
        if len(found) > KNEE and self._markers and _dense(sorted([p for p, _ in found]), size):
            names = [name for _, name in found]
            for name in dict.fromkeys(names):  # first-seen order: set order varies by process
                if names.count(name) > KNEE and name in self._markers:
                    at = sorted(position for position, other in found if other == name)
                    at = [position for position in at if position < count]
                    if _dense(at, size):
                        spans.append((self._markers[name], at))
        return spans

    def _linear_log_odds(
        self, words: Sequence[bytes], found: Sequence[tuple[int, str]]
    ) -> list[float]:
        """``log_odds`` on the scalar path with every feature counted linearly."""
        count = len(words)
        size = self._size
        # a position's token weight is the default of its pair's lookup: both in one pass;
        # zip reuses its result tuple (pairwise, in 3.11, makes a new one per pair)
        unigram = map(self._words.get, words, repeat(0.0, count))
        adjacent = zip(words, words[1:], strict=False)  # noqa: RUF007
        positions = map(self._opening.get, adjacent, unigram)  # all but the last token's
        # the last position (no pair opens there) is added after the others, not chained to
        # them: the same additions in the same order (adding the 0.0 padding changes nothing)
        final = self._words.get(words[-1], 0.0) if words else 0.0
        if count <= size:  # one window, one block: the markers added to its sum
            total = sum(positions) + final
            for position, name in found:
                if position < count:
                    total += self._features.get(name, 0.0)
            return [self._bias + total]
        block = gcd(max(size // 2, 1), size)
        sums = list(map(sum, zip_longest(*[positions] * block, fillvalue=0.0)))
        if (count - 1) % block:
            sums[-1] += final
        else:  # the last token opens a block of its own
            sums.append(0.0 + final)
        for position, name in found:
            if position < count:
                sums[position // block] += self._features.get(name, 0.0)
        step = max(size // 2, 1)
        prefix = list(accumulate(sums, initial=0.0))
        windows = len(window_starts(count, size))
        per_step, per_window = step // block, size // block
        # window k holds blocks [k per_step, k per_step + per_window), the last one up to
        # the end, which no pair leaves
        firsts = prefix[: windows * per_step : per_step]
        lasts = prefix[per_window : per_window + (windows - 1) * per_step : per_step]
        lasts.append(prefix[-1])
        ends = size - 1 + (windows - 1) * step
        leaving = zip(words[size - 1 : ends : step], words[size : ends + 1 : step], strict=True)
        left = list(map(self._pairs.get, leaving, repeat(0.0, windows - 1)))
        left.append(0.0)
        return list(map(self._bias.__add__, map(sub, map(sub, lasts, firsts), left)))

    def _log_odds_vector(
        self, words: Sequence[bytes], found: Sequence[tuple[int, str]], marks: bytes | None
    ) -> list[float]:
        """``log_odds`` of more than ``size`` tokens with arrays: one dictionary lookup per
        token (its id), then array operations. Pairs are looked up (a binary search among
        the known pairs' codes) only where the first token opens a known pair and the
        second closes one. Sums per block and windows from the blocks' prefix sums, as on
        the scalar path (equal to it but for rounding)."""
        count, size = len(words), self._size
        joined = b"".join(map(self._ids.get, words, repeat(self._unknown, count)))
        ids = np.frombuffer(joined, dtype=self._id_type)
        weights: npt.NDArray[np.float64] = self._unigram[ids]
        pair = np.zeros(count - 1)
        lead, follow = ids[:-1], ids[1:]
        either = np.flatnonzero(
            (lead < self._open_to) & (follow >= self._close_from) & (follow < self._close_to)
        )
        if either.size and self._codes.size:
            codes = ids[either].astype(np.int64) * _ID_SPAN + ids[either + 1]
            slots = np.minimum(np.searchsorted(self._codes, codes), self._codes.size - 1)
            known = self._codes[slots] == codes
            pair[either[known]] = self._pair_weights[slots[known]]
            weights[:-1] += pair
        marked = [position for position, _ in found if position < count]
        if marked:
            added = [self._features.get(name, 0.0) for position, name in found if position < count]
            if len(set(marked)) == len(marked):  # each position once (most text): an indexed
                weights[marked] += added  # add is ``np.add.at``'s sum without its ~10 µs
            else:
                np.add.at(weights, marked, added)
        step = max(size // 2, 1)
        block = gcd(step, size)
        blocks = -(-count // block)
        padded = np.zeros(blocks * block)
        padded[:count] = weights
        prefix = np.zeros(blocks + 1)
        np.cumsum(padded.reshape(blocks, block).sum(axis=1), out=prefix[1:])
        windows = len(window_starts(count, size))
        per_step, per_window = step // block, size // block
        # window k holds blocks [k per_step, k per_step + per_window), the last one up to
        # the end, which no pair leaves
        firsts = prefix[: windows * per_step : per_step]
        lasts = np.append(
            prefix[per_window : per_window + (windows - 1) * per_step : per_step], prefix[-1]
        )
        ends = size - 1 + (windows - 1) * step
        left = np.append(pair[size - 1 : ends : step], 0.0)
        z = self._bias + ((lasts - firsts) - left)
        repeated = self._repeated_arrays(ids, found, marks)
        if repeated:
            starts = np.arange(windows) * step
            for weight, at in repeated:
                held = np.searchsorted(at, starts + size) - np.searchsorted(at, starts)
                excess = np.maximum(held - KNEE, 0)
                z += weight * (np.minimum(np.log1p(excess), _LOG_ROOM) - excess)
        scored: list[float] = z.tolist()
        return scored

    def scores(
        self,
        words: Sequence[bytes],
        found: Sequence[tuple[int, str]] = (),
        marks: bytes | None = None,
    ) -> list[tuple[float, int, int]]:
        """``(log-odds, start, end)`` of each window (token offsets)."""
        bounds = window_bounds(len(words), self._size)
        windows = zip(self.log_odds(words, found, marks), bounds, strict=True)
        return [(z, start, end) for z, (start, end) in windows]
