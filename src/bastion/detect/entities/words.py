"""The words around a candidate: bounded look-behind and look-ahead in plain Python.

Each helper reads at most ``WINDOW`` characters, so the cost per candidate is constant
whatever the length of the text.
"""

from __future__ import annotations

WINDOW = 40
_SENTENCE_ENDS = frozenset(".!?:;\n\"'\u201c\u201d\u2018\u2019([{•*#>|-\u2013\u2014")
_STRIP = ".,;:!?\"'\u201c\u201d\u2018\u2019()[]{}<>*"


def previous_word(text: str, start: int) -> str:
    """The casefolded word just before ``start`` in the same sentence ("" if none)."""
    before = text[max(0, start - WINDOW) : start]
    line = before.rsplit("\n", 1)[-1].split()
    if not line or (line[-1][-1] in ".!?;" and len(line[-1]) > 4):
        return ""  # the previous sentence's last word is no cue for this one
    return line[-1].strip(_STRIP).casefold()


def previous_words(text: str, start: int, count: int = 2) -> list[str]:
    """Up to ``count`` casefolded words just before ``start`` on the same line."""
    before = text[max(0, start - WINDOW) : start]
    return [w.strip(_STRIP).casefold() for w in before.rsplit("\n", 1)[-1].split()[-count:]]


def next_word(text: str, end: int) -> str:
    """The casefolded word just after ``end`` on the same line ("" if none)."""
    after = text[end : end + WINDOW]
    line = after.split("\n", 1)[0].split()
    return line[0].strip(_STRIP).casefold() if line else ""


def sentence_initial(text: str, start: int) -> bool:
    """Whether ``start`` opens a sentence, a line or a quotation (capitals say little)."""
    before = text[max(0, start - WINDOW) : start].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_ENDS
