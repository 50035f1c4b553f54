"""``pii.credit_card``: payment card numbers (IBANs are in ``iban.py``).

A card candidate is one of the groupings cards are written in (4-4-4-4, 4-6-5, 4-4-4-1..3,
one contiguous run, digits spaced out singly or in pairs, other groups led by four
digits) joined by any separator people or evasions use (spaces, dashes, dots, slashes,
NBSP, line breaks, `` - ``). The groupings rather than a greedy run of digits bound a
candidate, so a card followed by a CVV, an expiry or the next card of a list is still
read on its own; 4-4-4-4-1..3 has rows of its own for 17-19 digit cards. A candidate
must have 13-19 digits, pass Luhn, and start with an issuer prefix whose brand allows
that length (``meta.brand``). Twelve-digit Maestro numbers exist but look like any other
number, so they count only next to a card word.

Glued letters: a grouped card may follow a letter directly (``Thanks4111 1111 1111
1111``): its grouping sets it apart from identifiers. A contiguous card-length run after
a letter (``INV4111111111111111``) is an order or invoice id and is not read. A digit or
``_`` directly before blocks a card, and so does a decimal point (``0.4111...`` is the
fraction of a number); other punctuation (``#``, ``:``, ``=``, ``(``, ``/``, a dot after a
word) never does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import (
    CARD_LEFT,
    CARD_SEP,
    HSPACE,
    MAX_CANDIDATE_CHARS,
    digit_groups,
    meta,
)

CARD_CONTEXT = (
    "card", "credit", "debit", "cc", "visa", "mastercard", "amex", "maestro", "payment", "pay",
    "charge", "billing", "cvv", "expiry", "karte", "carte", "tarjeta",
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

# Card shapes, in the order RE2's leftmost-first alternation prefers them where one is a
# prefix of another: a 16-digit card followed by a CVV, an expiry or the next card of a
# list is read as 16 digits (the 19-digit reading has a row of its own). Each grouped
# shape ends at ``\b`` right after a group, so "another separator and more digits" is a
# fine right edge; contiguous digits must stand alone on both sides.
_S = CARD_SEP
_CARD_SHAPES = (
    rf"\d{{4}}(?:{_S}\d{{4}}){{3}}",  # 4-4-4-4: most cards
    rf"\d{{4}}{_S}\d{{6}}{_S}\d{{4,5}}",  # 4-6-5 (Amex), 4-6-4 (Diners)
    rf"\d{{4}}(?:{_S}\d{{4}}){{2}}{_S}\d{{1,3}}",  # 4-4-4-1..3: 13-15 digits
    r"\b\d{12,19}",  # one run; never glued to letters (order ids: INV4111...)
    rf"\d{{1,2}}(?:{_S}\d{{1,2}}){{5,18}}",  # spaced out singly or in pairs (evasions)
    rf"\d{{4}}(?:{_S}\d{{2,6}}){{0,3}}{_S}\d{{1,15}}",  # any other grouping led by four
)
_CARD = rf"{CARD_LEFT}({'|'.join(_CARD_SHAPES)})\b"
_CARD_19 = rf"{CARD_LEFT}(\d{{4}}(?:{_S}\d{{4}}){{3}}{_S}\d{{1,3}})\b"
"""4-4-4-4-1..3: the 17-19 digit reading of what ``_CARD`` reads as 16 digits and a
short number after them; both are validated, and the 16-digit one wins a tie (a CVV
after a card is more common than a 19-digit card)."""


def _one_mark_17_19(mark: str) -> str:
    sep = rf"{HSPACE}{{0,2}}{mark}{HSPACE}{{0,2}}"
    return rf"\d{{4}}(?:{sep}\d{{4}}){{3}}{sep}\d{{1,3}}"


_ONE_MARK_SHAPES = "|".join(_one_mark_17_19(mark) for mark in (r"\-", r"\.", "/"))
_CARD_19_ONE_MARK = rf"{CARD_LEFT}({_ONE_MARK_SHAPES})\b"
"""The same with every group joined by one dash, dot or slash: a number after a card is
rarely glued on with the card's own punctuation, so this reading beats the 16 digits."""
_CARD_12 = rf"{CARD_LEFT}(\d{{4}}(?:{_S}\d{{4}})+|\b\d{{12}})\b"
"""Twelve digits as 4-4-4 or one run. The groups run on greedily (a run of four-digit
groups is one candidate, rejected whole) since this weak row needs no list support."""


@functools.cache
def _issuer_prefixes() -> dict[tuple[int, str], tuple[int, str]]:
    """``(length, prefix) -> (rank, brand)`` for every issuer prefix in ``ISSUERS``,
    ranges spelled out (about 4,000 entries, built once on first use)."""
    table: dict[tuple[int, str], tuple[int, str]] = {}
    for rank, (brand, ranges, lengths) in enumerate(ISSUERS):
        for low, high in ranges:
            for value in range(int(low), int(high) + 1):
                prefix = str(value).zfill(len(low))
                for length in lengths:
                    table.setdefault((length, prefix), (rank, brand))
    return table


_PREFIX_SIZES = tuple(sorted({len(low) for _, ranges, _ in ISSUERS for low, _ in ranges}))
"""The lengths of the issuer prefixes in ``ISSUERS`` (1, 2, 3, 4, 6)."""


def card_brand(digits: str) -> str | None:
    """The first brand in ``ISSUERS`` whose issuer prefixes and lengths fit ``digits``."""
    table = _issuer_prefixes()
    length = len(digits)
    fits = [table.get((length, digits[:size])) for size in _PREFIX_SIZES]
    found = [fit for fit in fits if fit is not None]
    return min(found)[1] if found else None


_SEPARATOR_RUN = re.compile(r"[^0-9]+")


def _card_grouping_ok(candidate: str, groups: list[str]) -> bool:
    """One run; or groups led by four digits (4-4-4-4, 4-6-5, ...); or digits spaced out
    singly or in pairs on one line, every group but a shorter last one the same size, with
    one and the same separator throughout. Irregular mixes (``3.14159...``, lists of small
    numbers such as ``56 57 7 16 7 17 26 26``), a pasted column of numbers and a grid of
    digits on several lines are not cards."""
    if len(groups) == 1:
        return True
    sizes = [len(group) for group in groups]
    if sizes[0] == 4 and min(sizes[1:-1], default=2) >= 2 and max(sizes[1:-1], default=2) <= 6:
        return True
    if sizes[0] > 2 or any(size != sizes[0] for size in sizes[1:-1]) or sizes[-1] > sizes[0]:
        return False
    separators = set(_SEPARATOR_RUN.findall(candidate))
    return len(separators) == 1 and "\n" not in separators.pop()


_DOUBLED = str.maketrans("0123456789", "0246813579")
"""Luhn's doubled digit with its digits summed (2 x 7 = 14 -> 5)."""


def luhn_holds(digits: str) -> bool:
    """Luhn over ASCII digits: python-stdnum's answer at a fraction of its cost, which
    matters on runs of digit groups, where every window is a candidate."""
    kept = digits[-1::-2]
    doubled = digits[-2::-2].translate(_DOUBLED)
    return sum(map(int, kept + doubled)) % 10 == 0


def _card_digits(candidate: str) -> str | None:
    """The 12-19 digits of a card-shaped candidate (Luhn not yet checked)."""
    if len(candidate) > MAX_CANDIDATE_CHARS * 2:
        return None
    groups = digit_groups(candidate)
    digits = "".join(groups)
    if not 12 <= len(digits) <= 19 or not _card_grouping_ok(candidate, groups):
        return None
    return digits


def validate_card(candidate: str) -> Mapping[str, str] | None:
    """Accept 13-19 digits passing Luhn with a known issuer prefix; ``meta.brand``, and
    ``meta.known_test`` for the networks' published test numbers (still reported: they
    have the real format, and policy decides what they are worth)."""
    digits = _card_digits(candidate)
    if digits is None or len(digits) < 13:
        return None
    brand = card_brand(digits)  # cheaper than Luhn, and turns away a third of candidates
    if brand is None or not luhn_holds(digits):
        return None
    if digits in KNOWN_TEST_CARDS:
        return meta(brand=brand, known_test="true")
    return meta(brand=brand)


def validate_short_card(candidate: str) -> Mapping[str, str] | None:
    """Accept a 12-digit Maestro number passing Luhn (the row requires a card word)."""
    digits = _card_digits(candidate)
    if digits is None or len(digits) != 12 or card_brand(digits) != "maestro":
        return None
    return meta(brand="maestro") if luhn_holds(digits) else None


CARD_PATTERNS: tuple[Pattern, ...] = (
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
        id="pii.credit_card.long",
        data_class="pii.credit_card",
        regex=_CARD_19,
        group=1,
        score=0.75,  # below the 16-digit reading: a CVV after a card is likelier than 19
        validator=validate_card,
        context=CARD_CONTEXT,
    ),
    Pattern(
        id="pii.credit_card.long_one_mark",
        data_class="pii.credit_card",
        regex=_CARD_19_ONE_MARK,
        group=1,
        score=0.85,
        validator=validate_card,
        context=CARD_CONTEXT,
    ),
    Pattern(
        id="pii.credit_card.maestro12",
        data_class="pii.credit_card",
        regex=_CARD_12,
        group=1,
        score=0.5,
        validator=validate_short_card,
        context=CARD_CONTEXT,
        requires_context=True,
    ),
)
