"""``pii.credit_card`` and ``pii.iban``: payment numbers with check digits.

A card candidate is a whole run of digits joined by any separator people or evasions use
(spaces, dashes, dots, slashes, NBSP, line breaks, `` - ``); it must have 13-19 digits,
pass Luhn, and start with an issuer prefix whose brand allows that length
(``meta.brand``). Twelve-digit Maestro numbers exist but look like any other number, so
they count only next to a card word. IBANs are matched in 4-character chunks with
optional separators (line breaks too: mod 97 keeps that safe) and validated by
python-stdnum (country length table, BBAN structure, ISO 7064 mod 97-10);
``meta.country`` is the prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

from stdnum import iban, luhn

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import (
    CARD_SEP,
    HSPACE,
    MAX_CANDIDATE_CHARS,
    compact,
    digit_groups,
    meta,
)

CARD_CONTEXT = (
    "card", "credit", "debit", "cc", "visa", "mastercard", "amex", "maestro", "payment", "pay",
    "charge", "billing", "cvv", "expiry", "karte", "carte", "tarjeta",
)  # fmt: skip
IBAN_CONTEXT = (
    "iban", "account", "bank", "transfer", "wire", "swift", "bic", "sepa", "konto",
    "compte", "cuenta", "conto", "rekening",
)  # fmt: skip

# (brand, issuer prefix ranges (inclusive, as equal-length digit strings compared on the
# same number of leading digits), allowed lengths). The first brand that fits wins.
_ANY_LONG = frozenset(range(16, 20))
ISSUERS: tuple[tuple[str, tuple[tuple[str, str], ...], frozenset[int]], ...] = (
    ("amex", (("34", "34"), ("37", "37")), frozenset({15})),
    ("visa", (("4", "4"),), frozenset({13, 16, 19})),
    ("mastercard", (("51", "55"), ("2221", "2720")), frozenset({16})),
    ("mir", (("2200", "2204"),), _ANY_LONG),
    # JCB proper is 3528-3589; the rest of 35 is unassigned and test generators use it
    ("jcb", (("35", "35"),), _ANY_LONG),
    ("jcb", (("1800", "1800"), ("2131", "2131")), frozenset({15})),
    ("diners", (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")),
     frozenset(range(14, 20))),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")),
     _ANY_LONG),
    ("unionpay", (("62", "62"), ("81", "81")), _ANY_LONG),
    ("maestro", (("50", "50"), ("56", "58"), ("6304", "6304"), ("6390", "6390"),
                 ("6759", "6759"), ("6761", "6763"), ("0604", "0604")),
     frozenset(range(12, 20))),
    ("rupay", (("60", "60"), ("508", "508"), ("82", "82")), frozenset({16})),
    ("troy", (("9792", "9792"),), frozenset({16})),
)  # fmt: skip

KNOWN_TEST_CARDS = frozenset(
    {
        "4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556",
        "5555555555554444", "5105105105105100", "2223003122003222", "378282246310005",
        "371449635398431", "6011111111111117", "6011000990139424", "3530111333300000",
        "3566002020360505", "30569309025904", "38520000023237", "6200000000000005",
    }
)  # fmt: skip
"""Test numbers the card networks and payment processors publish for sandboxes."""

_CARD = rf"\b(\d(?:{CARD_SEP}?\d){{11,}})\b"
_IBAN_SEP = rf"(?:{HSPACE}{{0,2}}[\-./\r\n]{{1,2}}{HSPACE}{{0,2}}|{HSPACE}{{1,2}})"
_IBAN = (
    rf"(?i)\b([A-Z]{{2}}{_IBAN_SEP}?\d{{2}}(?:{_IBAN_SEP}?[A-Z0-9]{{4}}){{2,7}}"
    rf"(?:{_IBAN_SEP}?[A-Z0-9]{{1,4}})?)\b"
)


def card_brand(digits: str) -> str | None:
    """The brand whose issuer prefixes and lengths fit ``digits``, if any."""
    for brand, ranges, lengths in ISSUERS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            if low <= digits[: len(low)] <= high:
                return brand
    return None


def _card_grouping_ok(groups: list[str]) -> bool:
    """One run; or groups led by four digits (4-4-4-4, 4-6-5, ...); or digits spaced out
    singly or in pairs. Irregular mixes (``3.14159...``, lists of numbers) are not cards."""
    if len(groups) == 1:
        return True
    if len(groups[0]) == 4 and all(2 <= len(g) <= 6 for g in groups[1:-1]):
        return True
    return all(len(g) <= 2 for g in groups)


def _card_digits(candidate: str) -> str | None:
    if len(candidate) > MAX_CANDIDATE_CHARS * 2:
        return None
    groups = digit_groups(candidate)
    digits = "".join(groups)
    if not 12 <= len(digits) <= 19 or not _card_grouping_ok(groups):
        return None
    return digits if luhn.is_valid(digits) else None


def validate_card(candidate: str) -> Mapping[str, str] | None:
    """Accept 13-19 digits passing Luhn with a known issuer prefix; ``meta.brand``, and
    ``meta.known_test`` for the networks' published test numbers (still reported: they
    have the real format, and policy decides what they are worth)."""
    digits = _card_digits(candidate)
    if digits is None or len(digits) < 13:
        return None
    brand = card_brand(digits)
    if brand is None:
        return None
    if digits in KNOWN_TEST_CARDS:
        return meta(brand=brand, known_test="true")
    return meta(brand=brand)


def validate_short_card(candidate: str) -> Mapping[str, str] | None:
    """Accept a 12-digit Maestro number passing Luhn (the row requires a card word)."""
    digits = _card_digits(candidate)
    if digits is None or len(digits) != 12 or card_brand(digits) != "maestro":
        return None
    return meta(brand="maestro")


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


FINANCIAL_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.credit_card",
        data_class="pii.credit_card",
        regex=_CARD,
        group=1,
        score=0.8,
        validator=validate_card,
        context=CARD_CONTEXT,
    ),
    Pattern(
        id="pii.credit_card.maestro12",
        data_class="pii.credit_card",
        regex=_CARD,
        group=1,
        score=0.5,
        validator=validate_short_card,
        context=CARD_CONTEXT,
        requires_context=True,
    ),
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
