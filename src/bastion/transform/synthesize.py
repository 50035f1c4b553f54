"""Format-valid fakes for ``synthesize``: the model sees a plausible value, never the real one.

Each fake is drawn deterministically from the keyed digest of the real value, in ranges
reserved for documentation where they exist (example.com mail, 555-01xx phone numbers,
TEST-NET addresses), so a fake is restorable and does not name a real person's data.
Classes without a safe generator return None; the caller then uses a pseudonym.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import re2

from bastion.model.checksums import luhn_digit

_FIRST = (
    "Avery", "Blake", "Casey", "Dana", "Elliot", "Finley", "Harper", "Jordan", "Kendall",
    "Logan", "Morgan", "Parker", "Quinn", "Reese", "Rowan", "Sawyer", "Skyler", "Tatum",
)  # fmt: skip
_LAST = (
    "Ashdown", "Brackley", "Calloway", "Dunmore", "Elsworth", "Fairbrook", "Greythorn",
    "Hollister", "Ivesdale", "Kestrel", "Lockridge", "Marlowe", "Northcott", "Pembrook",
    "Quarrington", "Ravensdale", "Stanmere", "Thornbury", "Wexcombe", "Yarwood",
)  # fmt: skip
_STREETS = ("Alder", "Birch", "Cedar", "Juniper", "Larch", "Linden", "Rowan", "Sycamore")


def _number(digest: bytes, start: int, digits: int) -> str:
    value = int.from_bytes(digest[start : start + 8], "big") % (10**digits)
    return f"{value:0{digits}d}"


def _email(d: bytes) -> str:
    first, last = _FIRST[d[0] % len(_FIRST)], _LAST[d[1] % len(_LAST)]
    return f"{first.lower()}.{last.lower()}{_number(d, 2, 4)}@example.com"


def _person(d: bytes) -> str:
    return f"{_FIRST[d[0] % len(_FIRST)]} {_LAST[d[1] % len(_LAST)]}"


def _phone(d: bytes) -> str:
    return f"+1 202-555-01{_number(d, 2, 2)}"


def _card(d: bytes) -> str:
    payload = "400000" + _number(d, 2, 9)
    digits = payload + luhn_digit(payload)
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def _iban(d: bytes) -> str:
    bban = "XBST" + _number(d, 2, 14)
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    check = 98 - int(numeric) % 97
    return f"GB{check:02d}{bban}"


def _ssn(d: bytes) -> str:
    return f"9{_number(d, 2, 2)}-{_number(d, 10, 2)}-{_number(d, 18, 4)}"


def _ip(d: bytes) -> str:
    prefix = ("192.0.2", "198.51.100", "203.0.113")[d[0] % 3]
    return f"{prefix}.{100 + d[1] % 155}"  # three digits: never the start of another


def _street(d: bytes) -> str:
    return f"{1 + int(_number(d, 2, 4)) % 9000} {_STREETS[d[0] % len(_STREETS)]} Street"


_GENERATORS: dict[str, Callable[[bytes], str]] = {
    "pii.email": _email,
    "pii.person": _person,
    "pii.phone": _phone,
    "pii.credit_card": _card,
    "pii.iban": _iban,
    "pii.us_ssn": _ssn,
    "pii.ip_address": _ip,
    "pii.street_address": _street,
}


def synthesize(data_class: str, digest: bytes) -> str | None:
    """A fake of ``data_class`` drawn from ``digest``, or None when the class has none."""
    generator = _GENERATORS.get(data_class)
    return generator(digest) if generator is not None else None


def _any(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(words) + ")"


@cache
def _fake_shapes() -> Any:  # re2 ships no type stubs
    """Every shape a generator here makes; RE2, so one pass is linear whatever the text."""
    return re2.compile(
        "|".join(
            (
                r"[a-z]+\.[a-z]+\d{4}@example\.com",
                rf"{_any(_FIRST)} {_any(_LAST)}",
                r"\+1 202-555-01\d\d",
                r"4000 00\d\d \d{4} \d{4}",
                r"GB\d\dXBST\d{14}",
                r"9\d\d-\d\d-\d{4}",
                r"(?:192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}",
                rf"\d{{1,4}} {_any(_STREETS)} Street",
            )
        )
    )


def fakes_in(text: str) -> set[str]:
    """The strings of ``text`` shaped like a fake this module makes (one RE2 pass):
    a fake equal to one of them would reach the model beside the caller's own text, and
    restoring it would turn that text into the original as well."""
    return {match.group() for match in _fake_shapes().finditer(text)}
