"""``pii.email`` and ``pii.phone`` rows: how people are reached.

Email candidates are ASCII ``local@domain.tld``; the validator checks the RFC 5321
length limits and label shapes and turns away asset names such as ``icon@2x.png``.
Phone rows go from the most to the least self-evident shape (see ``phone.py``); the
loose shape counts only with a phone word nearby. Phone rows other than ``+CC`` refuse
to start right after a digit group and a blank, so they do not report a slice of a
number another row (or a longer number) owns. Phone groups are open-ended, so a number
on the same line after a phone (``+44 20 7946 0958 5 times``) would join it and sink
it; ``*.then_number`` rows read the same run without its last token. Rows of one class
may report the same or nested spans; the scanner keeps the strongest, then the longest.

Glued letters: a ``+`` number may follow a letter directly (``tel+44 20 7946 0958``);
numbers without a plus may not (``INV02079460958`` is an id), nor may any phone follow
a digit. ``#``, ``=`` and ``(`` never block; ``:`` blocks only after a digit (times),
``/`` only after a letter or digit (dates, URL paths).
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import DIGIT_SEP, HSPACE, meta
from bastion.detect.pii.phone import (
    validate_international_phone,
    validate_loose_phone,
    validate_nanp_phone,
    validate_national_phone,
)

EMAIL_CONTEXT = ("email", "e-mail", "mail", "contact", "address", "courriel", "correo")
PHONE_CONTEXT = (
    "phone", "telephone", "tel", "mobile", "cell", "fax", "call", "text", "sms", "whatsapp",
    "contact", "reach", "desk", "office", "answering", "telefon", "téléphone", "teléfono",
    "telefono", "handy",
)  # fmt: skip

_NOT_AFTER_NUMBER = r"(?:^|^[ \x{a0}]|[^\w+)\-./:\x{a0} ]|[^\d)][ \x{a0}]|(?:^|\D):|(?:^|[^\w])/)"
"""Left guard for phone rows without a ``+``: not inside a word or a number, and not
right after a digit group and one blank (``+44 20 7946 0958`` must not also yield
``20 7946 0958``, and a ``0044`` group inside an IBAN is no dialling prefix). ``(`` is
fine (``(020 7946 0958)``); a colon only where no digit precedes it (``09:05 0123 456``
is a time), a slash only where no word character does (``12/0207...`` is a date,
``/items/0207...`` a path)."""

_PLUS_GUARD = r"(?:^|[^\d+])"
"""Left guard for ``+CC`` rows: anything but a digit or another plus. The plus marks the
number plainly enough that a letter may touch it (``tel+44 20 7946 0958``)."""

_EXT = rf"(?:{HSPACE}?(?:[xX]|[eE][xX][tT]\.?|#){HSPACE}?\d{{1,6}})?"
_AFTER_COUNTRY_CODE = rf"(?:{DIGIT_SEP}?\(0\))?(?:{DIGIT_SEP}?(?:\(\d{{1,5}}\)|\d{{1,6}}))+"
_PLUS_CC = r"(?:\+[1-9]\d{0,2}|\(\+[1-9]\d{0,2}\))"
_NATIONAL_NUMBER = (
    rf"(?:0\d{{1,4}}{DIGIT_SEP}|(?:8{HSPACE}?)?\(0?\d{{1,5}}\){DIGIT_SEP}?)"
    rf"\d{{2,8}}(?:{DIGIT_SEP}\d{{2,8}})*"
)
_NEXT_TOKEN = rf"{HSPACE}{{1,3}}\d[\d/.:\-]*\b"
"""A blank and one number-like token after a phone (``2 times``, ``24/7``, ``12/05/2024``),
consumed by the "phone, then a number" rows so that the value group stops before it."""

_INTERNATIONAL_PLUS = rf"{_PLUS_GUARD}({_PLUS_CC}{_AFTER_COUNTRY_CODE}{_EXT})\b"
_INTERNATIONAL_00 = rf"{_NOT_AFTER_NUMBER}(00[1-9]\d{{0,2}}{_AFTER_COUNTRY_CODE}{_EXT})\b"
_NANP = (
    rf"{_NOT_AFTER_NUMBER}((?:1{DIGIT_SEP})?(?:\(\d{{3}}\){DIGIT_SEP}?|\d{{3}}{DIGIT_SEP})"
    rf"\d{{3}}{DIGIT_SEP}\d{{4}}{_EXT})\b"
)
_NATIONAL = rf"{_NOT_AFTER_NUMBER}({_NATIONAL_NUMBER})\b"
_LOOSE = rf"{_NOT_AFTER_NUMBER}(\d{{7,12}}|\d{{2,5}}(?:{DIGIT_SEP}\d{{2,8}})+)\b"

# The same shapes when a number follows on the line: their groups are open-ended, so the
# rows above read "+44 20 7946 0958 5 times" as one 13-digit candidate, which fails, and
# RE2 does not retry without the " 5". These read the run minus its last token; when both
# readings validate, the longer one wins (same score), so a plain phone is unaffected.
_INTERNATIONAL_PLUS_THEN_NUMBER = rf"{_PLUS_GUARD}({_PLUS_CC}{_AFTER_COUNTRY_CODE}){_NEXT_TOKEN}"
_INTERNATIONAL_00_THEN_NUMBER = (
    rf"{_NOT_AFTER_NUMBER}(00[1-9]\d{{0,2}}{_AFTER_COUNTRY_CODE}){_NEXT_TOKEN}"
)
_NATIONAL_THEN_NUMBER = rf"{_NOT_AFTER_NUMBER}({_NATIONAL_NUMBER}){_NEXT_TOKEN}"

# Internationalised addresses too (RFC 6531: zoë.müller@exämple.de, имя@пример.рф): letters
# of any script in the local part and the labels. RE2's \b knows ASCII word characters
# only, so the end is "not followed by a letter, digit, mark, _ or -" instead.
_EMAIL_CHAR = r"\p{L}\p{M}\p{N}"
_EMAIL = (
    rf"([{_EMAIL_CHAR}._%+\-]+@[{_EMAIL_CHAR}\-]+(?:\.[{_EMAIL_CHAR}\-]+)*"
    rf"\.(?:[A-Za-z]{{2,24}}|xn--[A-Za-z0-9\-]{{1,59}}|\p{{L}}[\p{{L}}\p{{M}}]{{1,23}}))"
    rf"(?:[^{_EMAIL_CHAR}_\-]|$)"
)
_FILE_SUFFIXES = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "mjs", "map"}
)


def validate_email(candidate: str) -> Mapping[str, str] | None:
    """Accept an address within RFC 5321 limits whose local part and domain labels are
    well formed; reject asset names like ``logo@2x.png`` and the ``git@host`` of an SSH
    remote (a service login, no one's mailbox)."""
    if len(candidate) > 254:
        return None
    local, _, domain = candidate.rpartition("@")
    if not local or len(local) > 64 or local[0] == "." or local[-1] == "." or ".." in local:
        return None
    labels = domain.split(".")
    if any(not label or len(label) > 63 for label in labels):
        return None
    if any(label[0] == "-" or label[-1] == "-" for label in labels):
        return None
    if labels[-1].lower() in _FILE_SUFFIXES:
        return None
    if local == "git":  # the SSH user of git hosts: git@github.com:org/repo.git
        return None
    return meta()


EMAIL_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.email",
        data_class="pii.email",
        regex=_EMAIL,
        group=1,
        score=0.9,
        validator=validate_email,
        context=EMAIL_CONTEXT,
    ),
)

PHONE_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.phone.international",
        data_class="pii.phone",
        regex=_INTERNATIONAL_PLUS,
        group=1,
        score=0.8,
        validator=validate_international_phone,
        context=PHONE_CONTEXT,
    ),
    Pattern(
        id="pii.phone.international_00",
        data_class="pii.phone",
        regex=_INTERNATIONAL_00,
        group=1,
        score=0.75,
        validator=validate_international_phone,
        context=PHONE_CONTEXT,
    ),
    Pattern(
        id="pii.phone.international.then_number",
        data_class="pii.phone",
        regex=_INTERNATIONAL_PLUS_THEN_NUMBER,
        group=1,
        score=0.8,
        validator=validate_international_phone,
        context=PHONE_CONTEXT,
    ),
    Pattern(
        id="pii.phone.international_00.then_number",
        data_class="pii.phone",
        regex=_INTERNATIONAL_00_THEN_NUMBER,
        group=1,
        score=0.75,
        validator=validate_international_phone,
        context=PHONE_CONTEXT,
    ),
    Pattern(
        id="pii.phone.nanp",
        data_class="pii.phone",
        regex=_NANP,
        group=1,
        score=0.7,
        validator=validate_nanp_phone,
        context=PHONE_CONTEXT,
    ),
    Pattern(
        id="pii.phone.national",
        data_class="pii.phone",
        regex=_NATIONAL,
        group=1,
        score=0.6,
        validator=validate_national_phone,
        context=PHONE_CONTEXT,
    ),
    Pattern(
        id="pii.phone.national.then_number",
        data_class="pii.phone",
        regex=_NATIONAL_THEN_NUMBER,
        group=1,
        score=0.6,
        validator=validate_national_phone,
        context=PHONE_CONTEXT,
    ),
    Pattern(
        id="pii.phone.loose",
        data_class="pii.phone",
        regex=_LOOSE,
        group=1,
        score=0.45,
        validator=validate_loose_phone,
        context=PHONE_CONTEXT,
        requires_context=True,
    ),
)
