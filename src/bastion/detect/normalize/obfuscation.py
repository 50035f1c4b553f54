"""Obfuscations that are not encodings: ROT13, leetspeak, spaced-out letters.

Each produces its projection only when the text shows signs of it, so ordinary prose
is not scanned three more times:

* ROT13 when a common English word appears in its ROT13 form (``gur``, ``naq``, ``zl``,
  ``cyrnfr``...) or the text names the cipher. 1:1, only ASCII letters change.
* leetspeak when a word has a leet digit or ``$`` between two letters (``p4ssw0rd``,
  ``1gn0r3``); every word made only of letters and ``0 1 3 4 5 7 @ $`` (with at least
  one letter and one of those) is rewritten, ``11`` as ``ll`` and a lone ``1`` as ``i``.
  Numbers standing alone (``123-45-6789``) are never touched, nor words that machine
  text is full of: hex ids (``3c43dc``), numbers with a unit (``35ms``), versions
  (``v1``), ``user@host``, pieces of paths and base64 (glued to ``/`` or ``+``). 1:1.
* despaced when four or more single characters are separated by spaces (``p a s s``)
  or by one of ``. - _ * / | + ~`` (``j.o.h.n``, and further space-separated groups
  such as ``G.B.8.2 W.E.S.T``): the separators are deleted, and in a spaced run a gap
  wider than the narrowest one is kept as one space, so ``B E G I N  R S A`` reads
  ``BEGIN RSA``, and so is the space after an "a" or "I" that follows a word
  (``is a p a s s`` reads ``is a pass``). A deletion projection.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any

import re2

from bastion.detect.normalize.projection import MapBuilder, OffsetMap
from bastion.detect.normalize.utf8 import Utf8Text

_COMMON_WORDS = (  # frequent English words, and words attacks use; their ROT13 forms
    "the and you your that this with for have please all here send tell from",  # are
    "is my me call ignore previous instructions system prompt",  # almost never English
    "password secret key token email number social security card credit phone",
)
ROT13_WORDS = tuple(codecs.encode(word, "rot13") for line in _COMMON_WORDS for word in line.split())
ROT13_HINT = r"(?i:\b(?:" + "|".join(ROT13_WORDS) + r"|rot-?13|rot 13|caesar)\b)"
LEET_HINT = r"\b[A-Za-z013457@$]*[A-Za-z][013457$]+[A-Za-z][A-Za-z013457@$]*\b"
_LEET_WORD = (  # a whole word (\b) of letters and leet characters, with one of each
    r"\b[A-Za-z013457@$]*(?:[A-Za-z][A-Za-z013457@$]*[013457$]|[013457$][A-Za-z013457@$]*"
    r"[A-Za-z])[A-Za-z013457@$]*\b"
)
_LEET_NEIGHBOUR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@$/+")
_NOT_LEET = (  # words of logs and listings: hex ids, a number and its unit, versions,
    # user@host (an address the e-mail patterns read as it is; p@55w0rd stays leet)
    r"[0-9a-fA-F]{6,}|[0-9]{2,}[A-Za-z]{1,3}|[0-9](?i:[smhdkx]|ms|[kmgt]b|px|st|nd|rd|th)"
    r"|[A-Za-z]{1,2}[0-9]+|[A-Za-z0-9$]{2,}@[A-Za-z0-9@$]+"
)
SPACED = r"[^\s|](?:[ \t]{1,3}[^\s|]){3,}"  # not "| a | b |" table cells
_DOT_GROUP = r"[\pL\pN](?:[._*/|+~\-][\pL\pN])"
DOTTED = _DOT_GROUP + r"{3,}(?: " + _DOT_GROUP + r"*)*"  # "G.B.8.2 W.E.S.T 1.2" groups too
PATTERNS = (ROT13_HINT, LEET_HINT, SPACED, DOTTED)
"""What the gate in ``normalised`` searches for before calling these."""

_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)
_LEET_LOWER = str.maketrans("013457@$", "oieastas")
_LEET_UPPER = str.maketrans("013457@$", "OIEASTAS")


@cache
def _regex(pattern: str) -> Any:  # re2 ships no type stubs
    return re2.compile(pattern)


def rot13(source: Utf8Text) -> str | None:
    """ROT13 of the text when it looks ROT13-encoded, else None."""
    if not source.search(_regex(ROT13_HINT)):
        return None
    return source.text.translate(_ROT13)


def leet(source: Utf8Text) -> str | None:
    """The text with leetspeak words read as letters, else None when none looks leet."""
    if not source.search(_regex(LEET_HINT)):
        return None
    text = source.text
    parts: list[str] = []
    done = 0
    for start, end, _ in source.spans(_regex(_LEET_WORD)):
        if start and text[start - 1] in _LEET_NEIGHBOUR:
            continue  # part of a longer word with other digits (x86, sha256)
        if end < len(text) and text[end] in _LEET_NEIGHBOUR:
            continue
        word = text[start:end]
        if _regex(_NOT_LEET).fullmatch(word):
            continue
        table = _LEET_UPPER if word.upper() == word else _LEET_LOWER
        double = "LL" if table is _LEET_UPPER else "ll"
        parts.append(text[done:start])
        parts.append(word.replace("11", double).translate(table))
        done = end
    if not parts:
        return None
    parts.append(text[done:])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Despaced:
    text: str
    offsets: OffsetMap  # to the input text


@cache
def _spread() -> Any:
    return re2.compile(f"{SPACED}|{DOTTED}")  # no groups: DFA only


def despace(source: Utf8Text) -> Despaced | None:
    """Spaced-out and dotted-out letters joined up; None when there are none."""
    text = source.text
    parts: list[str] = []
    builder = MapBuilder()
    done = 0
    for start, end, _ in source.spans(_spread()):
        spaced = text[start + 1].isspace()
        elements = _elements(text, start, end, spaced=spaced)
        if elements is None:
            continue
        if elements[0] > done:
            parts.append(text[done : elements[0]])
            builder.copy(done, elements[0] - done)
        narrowest = min(b - a for a, b in pairwise(elements)) - 1
        article = spaced and len(elements) > 4 and _article_after_word(text, elements[0])
        for index, at in enumerate(elements):
            parts.append(text[at])
            builder.copy(at, 1)
            if index + 1 == len(elements):
                break
            gap = elements[index + 1] - at - 1
            if (
                (spaced and gap > narrowest)
                or (not spaced and text[at + 1] == " ")
                or (article and not index)
            ):
                parts.append(text[at + 1])  # a wider gap, or a space, separates words
                builder.copy(at + 1, 1)
        done = elements[-1] + 1
    if not parts:
        return None
    parts.append(text[done:])
    builder.copy(done, len(text) - done)
    return Despaced("".join(parts), builder.build(len(text)))


def _article_after_word(text: str, at: int) -> bool:
    """Whether the one-letter word at ``at`` is "a" or "I" right after a word of prose
    ("here is a p a s s w o r d"): a word of its own, not the first spaced-out letter."""
    return text[at] in "aAI" and at >= 2 and text[at - 1] == " " and text[at - 2].isalpha()


def _elements(text: str, start: int, end: int, *, spaced: bool) -> list[int] | None:
    """Positions of the single characters of a run, trimmed to whole words at both ends."""
    if spaced:
        elements = [at for at in range(start, end) if not text[at].isspace()]
    else:
        elements = [at for at in range(start, end) if text[at].isalnum()]
    if start and text[start - 1].isalnum():
        elements = elements[1:]  # the first one ends a longer word
    if end < len(text) and text[end].isalnum():
        elements = elements[:-1]  # the last one starts a longer word
    letters = sum(1 for at in elements if text[at].isalnum())
    if letters < 4 or letters * 2 < len(elements):  # not "| a | b |" table cells
        return None
    return elements
