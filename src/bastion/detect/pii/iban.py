"""``pii.iban``: international bank account numbers.

An IBAN is matched with exactly its country's length (``IBAN_LENGTHS``), in 4-character
chunks with optional separators (line breaks too: mod 97 keeps that safe), so it never
runs on into a following word or number; python-stdnum then checks the country's BBAN
structure and ISO 7064 mod 97-10. ``meta.country`` is the prefix.

Glued letters: an IBAN may follow a letter directly (``IBANDE89...``): its country code,
fixed length and mod 97 already set it apart from identifiers, and RE2's leftmost match
lands on the first position where a whole IBAN fits. A digit directly before blocks it;
punctuation (``#``, ``:``, ``=``, ``(``, ``/``) never does.
"""

from __future__ import annotations

from collections.abc import Mapping

from stdnum import iban

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import BOUNDARY_OR_LETTER, DASH, HSPACE, compact, meta

IBAN_CONTEXT = (
    "iban", "account", "bank", "transfer", "wire", "swift", "bic", "sepa", "konto",
    "compte", "cuenta", "conto", "rekening",
)  # fmt: skip

IBAN_LENGTHS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (15, ("NO",)),
    (16, ("BE",)),
    (18, ("DK", "FI", "FK", "FO", "GL", "NL", "SD")),
    (19, ("MK", "SI")),
    (20, ("AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK")),
    (21, ("CH", "HR", "LI", "LV")),
    (22, ("BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA")),
    (23, ("AE", "GI", "IL", "IQ", "OM", "SO", "TL")),
    (24, ("AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG")),
    (25, ("LY", "PT", "ST")),
    (26, ("IS", "TR")),
    (27, ("BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM")),
    (28, ("AL", "AZ", "BY", "CY", "DO", "GT", "HN", "HU", "LB", "NI", "PL", "SV")),
    (29, ("BR", "EG", "PS", "QA", "UA")),
    (30, ("JO", "KW", "MU", "YE")),
    (31, ("MT", "SC")),
    (32, ("LC",)),
    (33, ("RU",)),
)
"""IBAN length by country (SWIFT's IBAN registry, as python-stdnum ships it). The regex
matches exactly this many characters after each country code, so an IBAN never runs on
into a following word or number (``BE68 5390 0754 7034 12 EUR``)."""

_IBAN_SEP = rf"(?:{HSPACE}{{0,2}}(?:{DASH}|[./\r\n]){{1,2}}{HSPACE}{{0,2}}|{HSPACE}{{1,2}})"


def _iban_shape(length: int, countries: tuple[str, ...]) -> str:
    """Country code, check digits, then the BBAN in 4-character chunks with optional
    separators and a shorter last chunk."""
    chunks, rest = divmod(length - 4, 4)
    tail = rf"{_IBAN_SEP}?[A-Z0-9]{{{rest}}}" if rest else ""
    return (
        rf"(?:{'|'.join(countries)}){_IBAN_SEP}?\d{{2}}"
        rf"(?:{_IBAN_SEP}?[A-Z0-9]{{4}}){{{chunks}}}{tail}"
    )


_IBAN = (
    rf"(?i){BOUNDARY_OR_LETTER}"
    rf"({'|'.join(_iban_shape(length, countries) for length, countries in IBAN_LENGTHS)})\b"
)


_LETTERS_TO_NUMBERS = str.maketrans({chr(65 + i): str(10 + i) for i in range(26)})


def _mod97_holds(number: str) -> bool:
    """ISO 7064 mod 97-10 over an upper-case ASCII IBAN (country and check digits moved
    to the end, letters as 10-35): the check python-stdnum runs first, without its
    per-character cleaning."""
    rearranged = (number[4:] + number[:4]).translate(_LETTERS_TO_NUMBERS)
    return int(rearranged) % 97 == 1


def validate_iban(candidate: str) -> Mapping[str, str] | None:
    """Accept an IBAN whose length, BBAN structure and mod-97 check fit its country;
    ``meta.country``."""
    number = compact(candidate)
    if not 15 <= len(number) <= 34 or not number.isalnum():
        return None
    if number.isascii() and not _mod97_holds(number):  # most candidates end here, cheaply
        return None
    if not iban.is_valid(number, check_country=False):
        return None
    return meta(country=number[:2])


IBAN_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.iban",
        data_class="pii.iban",
        regex=_IBAN,
        group=1,
        score=0.9,
        validator=validate_iban,
        context=IBAN_CONTEXT,
        case_insensitive=True,
    ),
)
