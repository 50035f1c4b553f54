"""``code.<language>``: source code pasted into a prompt, found chunk by chunk.

The text is cut into fenced blocks (```` ```lang ````) and, around them, chunks of at most
2,400 characters (``regions``). For each chunk one RE2 set pass says which rows of
``code_signals.SIGNALS`` occur; when they add up to nothing worth a second look the chunk
is done (most prose stops here). Otherwise a handful of ``str.count`` figures measure
code structure (``;``/``{`` line ends, indentation, symbol density) against prose
(function words, sentence ends), and a hand-weighted linear score ``z`` results; the
reported score is ``sigmoid(z)``, so 0.5 is the decision threshold.

Each chunk votes for the language with the most evidence; a language's hit spans its
chunks from the first code-looking line to the last, and its score is that of its best
chunk, raised a little when several chunks agree. A code-looking chunk with no language
evidence at all reports ``code.other`` (Perl, Lua, Scala, ...). One line of code inside
a sentence ("why does `print(x)` fail?") stays below the threshold: it is returned as a
low-scored candidate, for ``--all-scores``, not as a finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from bastion.detect.code_signals import (
    CODE,
    FENCE_TAGS,
    GATE,
    NAMED_LANGUAGES,
    NOT_CODE_TAGS,
    SIGNALS,
)
from bastion.detect.patterns import Hit
from bastion.detect.regions import (
    Screen,
    SignalSet,
    chunk_bounds,
    line_bounds,
    line_bounds_reversed,
    utf8,
)

__all__ = ["LANGUAGES", "CodeDetector"]

OTHER = "other"
LANGUAGES: tuple[str, ...] = (*NAMED_LANGUAGES, OTHER)
"""Every language this detector can report (``code.<language>``)."""
_GATE = 1.0  # signal weight below which a chunk is prose without a second look
_MIN_SCORE = 0.1  # candidates below this are not returned at all
_FLOOR = math.log(_MIN_SCORE / (1.0 - _MIN_SCORE))  # the log-odds of _MIN_SCORE
_MAX_HITS = 3
_MAX_FENCES = 64
_LANGUAGE_FLOOR = 0.8  # less evidence than this: the chunk names no language
_SECOND_FLOOR, _SECOND_SHARE = 4.0, 0.6  # a second language in one chunk needs this much
_FAMILIES = {"cpp": "c", "typescript": "javascript", "csharp": "java", "kotlin": "java"}
_SURE = 4.0  # a chunk scoring this on its signals alone is code whatever its shape
# the linear score of one chunk (log-odds; weights set by hand, see module docstring)
_BIAS = -3.2
_W_GENERIC, _CAP_GENERIC = 0.7, 4.0
_W_LANGUAGE, _CAP_LANGUAGE = 0.75, 7.0
_W_STRUCTURE = 1.6  # per unit of (;/{ line ends + indented lines) per line, capped at 1
_W_SYMBOLS, _CAP_SYMBOLS = 25.0, 0.12  # per unit of symbol density
_W_FUNCTION_WORDS = 14.0  # per unit of function-word rate (prose)
_W_SENTENCES = 1.2  # per sentence end per line (prose)
_FENCE_LANGUAGE, _FENCE_PLAIN, _FENCE_DATA = 3.0, 0.8, -2.0
_SYMBOLS = b"(={};_[]<>$"


@dataclass(frozen=True, slots=True)
class _Table:
    """``SIGNALS`` compiled: the RE2 set, and per row its structure weight and its
    ``(language index, weight)`` pairs (indices into ``NAMED_LANGUAGES``)."""

    gate: Screen
    signals: SignalSet
    generic: tuple[float, ...]
    evidence: tuple[tuple[tuple[int, float], ...], ...]


@cache
def _table() -> _Table:
    index = {language: i for i, language in enumerate(NAMED_LANGUAGES)}
    return _Table(
        Screen(GATE),
        SignalSet([signal.regex for signal in SIGNALS]),
        tuple(sum(w for lang, w in signal.weights if lang == CODE) for signal in SIGNALS),
        tuple(
            tuple((index[lang], w) for lang, w in signal.weights if lang != CODE)
            for signal in SIGNALS
        ),
    )


@dataclass(frozen=True, slots=True)
class _Chunk:
    start: int
    end: int
    z: float
    language: str  # OTHER when no language has enough evidence
    evidence: float
    also: tuple[str, ...] = ()  # other languages with strong evidence of their own


class CodeDetector:
    """Reports ``code.<language>`` for source code in a text (at most three languages)."""

    name = "code"

    def __init__(self) -> None:
        _table()  # build the set now, not on the first request

    def detect(self, text: str) -> list[Hit]:
        """One hit per language found, spanning its code; never raises for any text."""
        chunks = [chunk for chunk in _scored_chunks(text) if chunk.z > _FLOOR]
        if not chunks:
            return []
        named = [chunk for chunk in chunks if chunk.language != OTHER]
        if named:  # unnamed code next to named code is taken to be the same language
            main = max(named, key=lambda c: (c.z, c.evidence)).language
            chunks = [c if c.language != OTHER else _relabel(c, main) for c in chunks]
        hits = [_hit(text, language, group) for language, group in _by_language(chunks)]
        hits.sort(key=lambda hit: -hit.score)
        return hits[:_MAX_HITS]


def _relabel(chunk: _Chunk, language: str) -> _Chunk:
    return _Chunk(chunk.start, chunk.end, chunk.z, language, chunk.evidence, chunk.also)


def _by_language(chunks: list[_Chunk]) -> list[tuple[str, list[_Chunk]]]:
    groups: dict[str, list[_Chunk]] = {}
    for chunk in chunks:
        for language in (chunk.language, *chunk.also):
            groups.setdefault(language, []).append(chunk)
    return list(groups.items())


def _hit(text: str, language: str, chunks: list[_Chunk]) -> Hit:
    best = max(chunk.z for chunk in chunks)
    agreeing = sum(1 for chunk in chunks if chunk.z >= 0.0)
    z = best + min(0.4 * max(agreeing - 1, 0), 1.2)
    start, end = _refine(text, chunks[0].start, chunks[-1].end)
    score = round(_sigmoid(z), 4)
    return Hit(f"code.{language}", start, end, score, "code", "", {"language": language})


def _scored_chunks(text: str) -> list[_Chunk]:
    """Every chunk of ``text`` worth a score, fenced blocks with their tag's prior."""
    out: list[_Chunk] = []
    pos = 0
    for open_at, content_start, content_end, tag in _fences(text):
        out += _unfenced(text, pos, open_at)
        for start, end in chunk_bounds(text, content_start, content_end):
            chunk = _score(text, start, end, tag)
            if chunk is not None:
                out.append(chunk)
        pos = min(len(text), content_end + 3)
    out += _unfenced(text, pos, len(text))
    return out


def _unfenced(text: str, start: int, end: int) -> list[_Chunk]:
    out: list[_Chunk] = []
    for a, b in chunk_bounds(text, start, end):
        chunk = _score(text, a, b, None)
        if chunk is not None:
            out.append(chunk)
    return out


def _fences(text: str) -> list[tuple[int, int, int, str]]:
    """``(fence start, content start, content end, tag)`` of each ```` ``` ```` block."""
    blocks: list[tuple[int, int, int, str]] = []
    if "`" not in text:  # one memchr; most text has no backtick at all
        return blocks
    pos = 0
    while len(blocks) < _MAX_FENCES:
        open_at = text.find("```", pos)
        if open_at < 0:
            break
        eol = text.find("\n", open_at)
        if eol < 0:
            break
        words = text[open_at + 3 : min(eol, open_at + 40)].strip().lower().split()
        close = text.find("```", eol + 1)
        end = close if close >= 0 else len(text)
        blocks.append((open_at, eol + 1, end, words[0] if words else ""))
        if close < 0:
            break
        pos = close + 3
    return blocks


def _score(text: str, start: int, end: int, tag: str | None) -> _Chunk | None:
    """The chunk's log-odds of being code and its language, or None for plain prose."""
    chunk = text[start:end]
    if not chunk or chunk.isspace():  # as "not chunk.strip()", without a copy
        return None
    table = _table()
    raw = utf8(chunk)
    if tag is None and not table.gate.passes(raw):
        return None
    generic = 0.0
    evidence = [0.0] * len(NAMED_LANGUAGES)
    for index in table.signals.present(raw):
        generic += table.generic[index]
        for slot, weight in table.evidence[index]:
            evidence[slot] += weight
    tagged = FENCE_TAGS.get(tag) if tag else None
    if tagged is not None:
        evidence[NAMED_LANGUAGES.index(tagged)] += _FENCE_LANGUAGE
    best = max(evidence)
    if tag is None and generic + best < _GATE:
        return None
    language = NAMED_LANGUAGES[evidence.index(best)] if best >= _LANGUAGE_FLOOR else OTHER
    if tag and tagged is None and tag not in NOT_CODE_TAGS:
        language = OTHER  # the author named a language we do not list (lua, perl, ...)
    floor = max(_SECOND_FLOOR, _SECOND_SHARE * min(best, _CAP_LANGUAGE))
    family = _FAMILIES.get(language, language)
    also = tuple(
        name
        for name, weight in zip(NAMED_LANGUAGES, evidence, strict=True)
        if weight >= floor and name != language and _FAMILIES.get(name, name) != family
    )
    z = _BIAS + _W_GENERIC * min(generic, _CAP_GENERIC) + _W_LANGUAGE * min(best, _CAP_LANGUAGE)
    if z < _SURE:  # below that, prose-like shape could still decide the chunk
        z += _shape(chunk, raw)
    if tag is not None:
        z += _FENCE_LANGUAGE if tagged else _FENCE_DATA if tag in NOT_CODE_TAGS else _FENCE_PLAIN
    return _Chunk(start, end, z, language, best, also if language != OTHER else ())


def _shape(chunk: str, raw: bytes) -> float:
    """Structure against prose, from a few C-speed counts (each one pass over the chunk)."""
    lines = chunk.count("\n") + 1
    words = chunk.count(" ") + lines
    symbols = len(raw) - len(raw.translate(None, _SYMBOLS))
    structure = chunk.count(";\n") + chunk.count("\n  ")
    if "\t" in chunk:
        structure += chunk.count("\n\t")
    function_words = chunk.count(" the ") + chunk.count(" to ") + chunk.count(" and ")
    sentences = chunk.count(". ") + chunk.rstrip().endswith((".", "?", "!"))
    return (
        _W_STRUCTURE * min(structure / lines, 1.0)
        + _W_SYMBOLS * min(symbols / len(raw), _CAP_SYMBOLS)
        - _W_FUNCTION_WORDS * function_words / words
        - _W_SENTENCES * min(sentences / lines, 2.0)
    )


_CODE_ENDINGS = (";", "{", "}", "(", ")", "[", "]", ",", "=>", "->", "\\", ">", "|")
_CODE_STARTS = (
    "#include",
    "#!",
    "#define",
    "//",
    "/*",
    "*/",
    "<?",
    "</",
    "$ ",
    "@",
    "}",
    ")",
    "]",
    "def ",
    "class ",
    "import ",
    "from ",
    "return",
    "if ",
    "if(",
    "for ",
    "for(",
    "while",
    "elif ",
    "else",
    "try:",
    "except",
    "fn ",
    "func ",
    "fun ",
    "let ",
    "const ",
    "var ",
    "val ",
    "public ",
    "private ",
    "protected ",
    "static ",
    "package ",
    "use ",
    "using ",
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "DELETE ",
    "CREATE ",
    "FROM ",
    "WHERE ",
    "echo ",
    "print",
    "console.",
    "System.",
    "std::",
    "fmt.",
    "sudo ",
    "pip ",
    "npm ",
    "git ",
)


def _code_line(line: str) -> bool:
    """A cheap per-line test used only to trim a hit's span to code-looking lines."""
    stripped = line.strip()
    if not stripped or stripped.startswith("```"):
        return False
    if stripped.endswith(_CODE_ENDINGS) or stripped.startswith(_CODE_STARTS):
        return True
    if stripped.endswith(":") and stripped.startswith(("def", "class", "if", "for", "with")):
        return True
    return line[:1] in (" ", "\t") and any(ch in stripped for ch in "=(){}[];")


def _refine(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim ``[start, end)`` to its first and last code-looking lines (if it has any)."""
    first = next((a for a, b in line_bounds(text, start, end) if _code_line(text[a:b])), None)
    if first is None:
        return start, end
    last = next(b for a, b in line_bounds_reversed(text, first, end) if _code_line(text[a:b]))
    return first, last


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
