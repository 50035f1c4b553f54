"""Is this decoded data text a model would read? (Shared by the decoders.)

A decoding is only worth scanning when it yields mostly printable text: base64 images,
hashes and random tokens decode to binary and are left alone. The checks run at C speed
(``bytes.translate``, ``str.isprintable``) except on the rare non-ASCII decodings.
"""

from __future__ import annotations

from bastion.detect.patterns import ascii_translation

_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_WHITESPACE = ascii_translation(str.maketrans("", "", "\t\n\r"))
_MAX_UNPRINTABLE = 0.05  # share of control characters a decoding may hold and still be text


def printable_text(data: bytes) -> str | None:
    """``data`` as text when it is mostly printable UTF-8 (or UTF-16LE) text, else None."""
    if not data:
        return None
    if len(data) % 2 == 0 and data[1::2].count(0) * 2 == len(data):
        text = data.decode("utf-16-le", "replace")  # Windows "wide" strings
    elif data.isascii():
        unprintable = len(data.translate(None, _PRINTABLE_ASCII))
        if unprintable > len(data) * _MAX_UNPRINTABLE:
            return None
        text = data.decode("ascii")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return text if looks_like_text(text) else None


def looks_like_text(text: str) -> bool:
    """Mostly printable, and with at least one letter or digit."""
    if not text:
        return False
    visible = text.translate(_WHITESPACE)
    if not visible.isprintable():
        unprintable = sum(1 for char in visible if not char.isprintable())
        if unprintable > len(text) * _MAX_UNPRINTABLE:
            return False
    return any(char.isalnum() for char in visible)
