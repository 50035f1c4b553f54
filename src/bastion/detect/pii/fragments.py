"""RE2 building blocks and cheap shape checks shared by the personal-data pattern families.

The regex fragments follow two rules that keep candidates whole without lookaround:
a *left guard* may consume the character before a value (it sits outside the value
group), but the right edge is either ``\\b`` or the natural end of a run, never a
consumed character, so that two values separated by one space are both found.

RE2 never retries a shorter match when a validator rejects a long one, so a value must
not run on into a neighbouring number. Rows therefore spell out the groupings a value is
written in (cards: 4-4-4-4, 4-6-5, ...; IBANs: their country's length), in the order
RE2's leftmost-first alternation should prefer them; where the grouping is open (phone
numbers), a second row reads the same run without its last blank-separated token. A
contiguous run of digits is still judged whole, so a card-like or phone-like stretch
inside a longer number is rejected rather than cut out.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT

HSPACE = r"[ \t\x{a0}\x{2007}\x{2009}\x{202f}]"
"""Horizontal blanks people (and evasions) put between digit groups: space, tab, NBSP,
figure, thin and narrow no-break spaces."""

DASHES = "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d"
"""Dashes that stand where a hyphen-minus goes: hyphen, non-breaking hyphen, figure and
en dash (word processors type them between digit groups), minus sign, small and
fullwidth hyphen-minus (NFKC folds the last two, but its projection skips punctuation)."""

DASH = r"[\-\x{2010}-\x{2013}\x{2212}\x{fe63}\x{ff0d}]"
"""One of ``-`` and ``DASHES`` (RE2 syntax)."""
_DASH_BODY = DASH[1:-1]

DIGIT_SEP = rf"(?:{HSPACE}{{0,2}}[{_DASH_BODY}./]{HSPACE}{{0,2}}|{HSPACE}{{1,2}})"
"""One separator between digit groups on one line: blanks, or a dash, dot or slash
optionally surrounded by blanks (``4111 - 1111``)."""

CARD_SEP = rf"(?:{HSPACE}{{0,2}}[{_DASH_BODY}./\r\n]{{1,2}}{HSPACE}{{0,2}}|{HSPACE}{{1,3}})"
"""Like ``DIGIT_SEP`` but also across a line break; only long checksummed numbers
(cards) use it, since short groups on consecutive lines are usually separate values."""

NOT_IN_NUMBER = r"(?:^|[^\w\-./+]|(?:^|\D)/)"
"""Stricter left guard for fixed-shape numbers: not after a word character nor after a
dash, dot or plus that could join it to a longer number; a slash only where no digit
precedes it (``SSN/536-22-8741``, not ``12/536-22-8741``). ``#``, ``:``, ``=`` and
``(`` are fine."""

BOUNDARY_OR_LETTER = r"(?:\b|[A-Za-z])"
"""Left guard for values whose own shape sets them apart from identifiers (grouped card
numbers, IBANs with their country code): any non-word character before them (``#``,
``:``, ``=``, ``(``, ``/``) or a letter glued on (``Thanks4111 1111 ...``,
``IBANDE89...``), but never a digit or ``_``. Rows that need contiguous digits to stand
apart from order ids (``INV4111111111111111``) add ``\\b`` inside that alternative."""

CARD_LEFT = r"(?:^|[^\w.]|[A-Za-z]|(?:^|\D)\.)"
"""``BOUNDARY_OR_LETTER`` for card numbers, less the fraction of a decimal number: a dot
blocks where a digit precedes it (``0.4111111111111111``: a double printed in full has
15-17 digits after the point, and one in ten passes Luhn with a card prefix), not after
a word (``card no.4111...``). The guard is consumed (RE2 has no look-behind); it lies
outside the value's group."""

BLANKS = frozenset(" \t\r\n\u00a0\u2007\u2009\u202f")
SEPARATORS = BLANKS | frozenset("-./()" + DASHES)
"""Characters a validator strips before reading the digits of a candidate."""

MAX_CANDIDATE_CHARS = 64
"""Validators reject longer candidates outright: no value we look for is longer, and it
keeps per-candidate work constant on adversarial runs of digits."""


_SEPARATORS_TO_SPACE = str.maketrans(
    dict.fromkeys("\t\r\n\u00a0\u2007\u2009\u202f-./()+," + DASHES, " ")
)
_DROP_SEPARATORS = str.maketrans(dict.fromkeys(SEPARATORS))
_ASCII_NON_DIGITS_TO_SPACE = bytes(b if 0x30 <= b <= 0x39 else 0x20 for b in range(256))


def digit_groups(candidate: str) -> list[str]:
    """The maximal runs of ASCII digits in a candidate (its digit groups)."""
    if candidate.isascii():  # most candidates: one byte-table pass, several times faster
        return candidate.encode().translate(_ASCII_NON_DIGITS_TO_SPACE).decode().split()
    groups = candidate.translate(_SEPARATORS_TO_SPACE).split()
    if all(group.isascii() and group.isdigit() for group in groups):
        return groups  # the common case: digits and separators only, split in C
    runs: list[str] = []
    current: list[str] = []
    for ch in candidate:
        if "0" <= ch <= "9":
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def digits_of(candidate: str) -> str:
    """The ASCII digits of a candidate, in order."""
    return "".join(digit_groups(candidate))


def compact(candidate: str) -> str:
    """The candidate without blanks and separator punctuation, upper-cased."""
    return candidate.translate(_DROP_SEPARATORS).upper()


def one_separator_kind(candidate: str) -> bool:
    """True when every non-alphanumeric character between groups is the same one
    (``123-45-6789`` but not ``123-45.6789``); blanks around a dash count as the dash."""
    kinds = {ch for ch in candidate if not ch.isalnum() and ch not in BLANKS}
    if not kinds:
        return True
    return len(kinds) == 1


def is_repetitive(digits: str) -> bool:
    """True for placeholder-like digit strings: one repeated digit or a plain ascending or
    descending run (``000000000``, ``123456789``)."""
    if len(set(digits)) <= 1:
        return True
    ascending = "01234567890123456789"
    descending = "98765432109876543210"
    return digits in ascending or digits in descending


def meta(**values: str) -> Mapping[str, str]:
    """A validator's accepted-with-meta result (``ACCEPT`` when empty)."""
    return dict(values) if values else ACCEPT
