"""Text smuggled in invisible characters: Unicode tags and variation-selector bytes.

Tag characters U+E0020-E007E spell ASCII one for one; a run of variation selectors
spells UTF-8 bytes (VS1-16 = bytes 0-15, VS17-256 = bytes 16-255, the "emoji smuggling"
trick). Both are decoded in place into the ``visible`` projection, so detectors read what
the model reads, each decoded character mapped back to the characters that carried it.
England's flag (black flag + tag letters + cancel tag) and ordinary selectors after
emoji, symbols, ideographs or keycaps are not payloads.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.detect.normalize.charsets import is_word
from bastion.detect.normalize.projection import MapBuilder
from bastion.detect.normalize.textcheck import looks_like_text

_TAG_PRINTABLE = bytes(range(0x20, 0x7F))
_BLACK_FLAG = "\U0001f3f4"
_TAG_CANCEL = 0xE007F
_KEYCAP = "\u20e3"


@dataclass(slots=True)
class Flag:
    """A flagged span, merged into hits per word later."""

    data_class: str
    start: int
    end: int
    score: float
    kind: str


class Writer:
    """The projected text and its map, written left to right."""

    __slots__ = ("builder", "done", "parts", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: list[str] = []
        self.builder = MapBuilder()
        self.done = 0

    def keep_until(self, position: int) -> None:
        if position > self.done:
            self.parts.append(self.source[self.done : position])
            self.builder.copy(self.done, position - self.done)
            self.done = position

    def skip_to(self, position: int) -> None:
        self.done = position

    def put(self, text: str, source: int, source_end: int) -> None:
        self.parts.append(text)
        if source_end - source == len(text):
            self.builder.copy(source, len(text))
        else:
            self.builder.collapse(len(text), source, source_end)

    def put_between(self, text: str, source: int) -> None:
        """Text with no source of its own, mapped to the source character ``source``."""
        self.parts.append(text)
        self.builder.collapse(len(text), source, source + 1)

    def text(self) -> str:
        return "".join(self.parts)


def is_flag_sequence(text: str, start: int, stop: int) -> bool:
    """``🏴`` + tag letters/digits + cancel tag: a subdivision flag such as England's."""
    if start == 0 or text[start - 1] != _BLACK_FLAG or not 3 <= stop - start <= 8:
        return False
    if ord(text[stop - 1]) != _TAG_CANCEL:
        return False
    return all(
        0xE0030 <= ord(c) <= 0xE0039 or 0xE0061 <= ord(c) <= 0xE007A for c in text[start : stop - 1]
    )


def put_tags(text: str, start: int, stop: int, out: Writer) -> bool:
    """Decode tag characters to ASCII in place; False when they spell nothing visible."""
    low = text[start:stop].encode("utf-32-le")[::4]  # U+E00xx -> xx, at C speed
    if not low.translate(None, _TAG_PRINTABLE) and low.strip():
        decoded_run = low.decode("ascii")
        _pad(text, start - 1, decoded_run[0], out, start)
        out.put(decoded_run, start, stop)
        _pad(text, stop, decoded_run[-1], out, stop - 1)
        return True
    decoded = [(chr(ord(c) - 0xE0000), at) for at, c in enumerate(text[start:stop], start)]
    decoded = [(char, at) for char, at in decoded if " " <= char <= "~"]
    if not any(char != " " for char, _ in decoded):
        return False
    _pad(text, start - 1, decoded[0][0], out, start)
    for char, at in decoded:
        out.put(char, at, at + 1)
    _pad(text, stop, decoded[-1][0], out, stop - 1)
    return True


def _pad(text: str, neighbour: int, edge: str, out: Writer, source: int) -> None:
    """A space between a decoded payload and a word it would otherwise be glued to, so
    ``hi`` + tags(``ignore``) reads ``hi ignore``; it maps to the payload's edge."""
    if 0 <= neighbour < len(text) and text[neighbour].isalnum() and edge.isalnum():
        out.put_between(" ", source)


def vs_run(
    text: str, start: int, stop: int, out: Writer, flagged: list[Flag], plain: list[int]
) -> bool:
    """A run of variation selectors: a byte payload, a benign selector, or plain invisibles."""
    base = text[start - 1] if start else ""
    after = text[stop] if stop < len(text) else ""
    if stop - start >= 2:
        skip = 1 if text[start] in "\ufe0e\ufe0f" and _takes_selector(base, "") else 0
        if _put_vs_payload(text, start + skip, stop, out):
            flagged.append(Flag("evasion.tag_payload", start, stop, 0.95, "variation_selectors"))
            return True
    if stop - start == 1 and _takes_selector(base, after):
        return False
    plain.extend(range(start, stop))
    return False


def _takes_selector(base: str, after: str) -> bool:
    """Whether one variation selector after ``base`` is ordinary (emoji, symbol, CJK, keycap)."""
    if not base:
        return False
    if base.isascii():
        return base in "0123456789#*" and after == _KEYCAP
    return not is_word(base)


def _put_vs_payload(text: str, start: int, stop: int, out: Writer) -> bool:
    data = bytearray()
    for char in text[start:stop]:
        code = ord(char)
        data.append(code - 0xFE00 if code <= 0xFE0F else code - 0xE0100 + 16)
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not looks_like_text(decoded):
        return False
    _pad(text, start - 1, decoded[0], out, start)
    at = start
    for char in decoded:
        size = len(char.encode("utf-8"))
        out.put(char, at, at + size)
        at += size
    _pad(text, stop, decoded[-1], out, stop - 1)
    return True
