"""Checksums of identifiers (Luhn, ISO 7064 mod 97-10): pure functions detectors and
transforms share."""

from __future__ import annotations

_IBAN_LETTERS = {chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)}


def digits_of(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def luhn_ok(value: str) -> bool:
    """Luhn check over the digits of ``value`` (separators ignored)."""
    digits = digits_of(value)
    if len(digits) < 2:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def luhn_digit(payload: str) -> str:
    """The check digit that makes ``payload`` + digit pass Luhn."""
    for candidate in "0123456789":
        if luhn_ok(payload + candidate):
            return candidate
    raise AssertionError("unreachable: one Luhn digit always fits")


def mod97_ok(value: str) -> bool:
    """ISO 7064 mod 97-10 over digits and letters (letters count A=10 … Z=35)."""
    compact = "".join(c for c in value.upper() if c.isalnum())
    if not compact:
        return False
    try:
        return int("".join(_IBAN_LETTERS.get(c, c) for c in compact)) % 97 == 1
    except ValueError:
        return False


def iban_ok(value: str) -> bool:
    """An IBAN's own check: country + check digits moved to the end, mod 97 == 1."""
    compact = "".join(c for c in value.upper() if c.isalnum())
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    return mod97_ok(compact[4:] + compact[:4])
