"""Where a stand-in stands whole in the answer, so restoring it is what the model meant.

A placeholder (``<EMAIL_3f9a1c2b>``) carries its own delimiters: wherever it appears,
even glued to a word (``x<EMAIL_3f9a1c2b>``), it is the value and is restored. A
``synthesize`` fake has none: ``morgan.marlowe2133@example.com`` is also the start of
``morgan.marlowe2133@example.com.evil.net``, ``203.0.113.110`` the end of
``10.203.0.113.110``, ``Morgan Marlowe`` the start of ``Morgan Marlowe-Smith``. A fake
is restored only where it is a whole token: no letter or digit touches it, nor a joiner
(``.``, ``-``, ``_``, ``@``, ``+``, ``%``) with a letter or digit beyond it. Prose
punctuation is not glue: ``Morgan Marlowe's``, ``<203.0.113.110>``, a sentence's final
``.`` leave the fake whole. In JSON text an escape is read as the character it spells
(``\\n`` before a name does not glue; ``\\u00e9`` does).
"""

from __future__ import annotations

JOINERS = frozenset(".-_@+%")
"""Characters that join two runs of letters or digits into one token."""
LOOKAHEAD = 7
"""Characters after a token that can decide whether it is whole (a JSON ``\\uXXXX``)."""
_CONTROL_ESCAPES = frozenset('bfnrt"/\\')
_HEX = frozenset("0123456789abcdefABCDEF")


def glued(text: str, start: int, end: int, *, json_text: bool = False) -> bool:
    """Whether ``text[start:end]`` is part of a longer token (the text ends count as
    boundaries); ``json_text``: escapes are read as the characters they spell."""
    return _glued_before(text, start, json_text) or _glued_after(text, end, json_text)


def undecided_after(text: str, end: int) -> bool:
    """Whether more text could still glue a token ending at ``end`` to what follows
    (``text`` ends at or just after it: an unfinished joiner or JSON escape)."""
    size = len(text)
    if end >= size:
        return True
    char = text[end]
    if char in JOINERS:
        return end + 1 >= size
    if char == "\\":
        return end + 1 >= size or (text[end + 1] == "u" and end + 6 > size)
    return False


def _glued_before(text: str, start: int, json_text: bool) -> bool:
    if start <= 0:
        return False
    if json_text:
        escaped = _escape_before(text, start)
        if escaped is not None:
            return escaped.isalnum()
    char = text[start - 1]
    if char.isalnum():
        return True
    return char in JOINERS and start >= 2 and text[start - 2].isalnum()


def _glued_after(text: str, end: int, json_text: bool) -> bool:
    if end >= len(text):
        return False
    char = text[end]
    if json_text and char == "\\":
        escaped = text[end + 2 : end + 6] if text[end + 1 : end + 2] == "u" else ""
        return len(escaped) == 4 and set(escaped) <= _HEX and chr(int(escaped, 16)).isalnum()
    if char.isalnum():
        return True
    return char in JOINERS and end + 1 < len(text) and text[end + 1].isalnum()


def _escape_before(text: str, start: int) -> str | None:
    """The character a JSON escape ending just before ``start`` spells, if one does."""
    for length in (6, 2):
        at = start - length
        if at < 0 or text[at] != "\\" or _escaped(text, at):
            continue
        if length == 6 and text[at + 1] == "u" and set(text[at + 2 : start]) <= _HEX:
            return chr(int(text[at + 2 : start], 16))
        if length == 2 and text[at + 1] in _CONTROL_ESCAPES:
            return "\n"  # a control character or quote: never part of a word
    return None


def _escaped(text: str, at: int) -> bool:
    """Whether the backslash at ``at`` is itself escaped (an odd run of them before)."""
    run = at
    while run > 0 and text[run - 1] == "\\":
        run -= 1
    return (at - run) % 2 == 1
