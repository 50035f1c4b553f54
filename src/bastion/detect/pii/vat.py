"""``pii.vat_id``: VAT numbers written with their country prefix.

EU member states (and ``XI``, Northern Ireland) are validated by python-stdnum's
``eu.vat``, which dispatches to each country's check-digit rules; UK (``GB``) and Swiss
(``CHE``, the UID with or without its ``MWST``/``TVA``/``IVA`` suffix) numbers use
stdnum's own modules. A VAT number names a business more often
than a person, but sole traders' numbers are personal data, and the prefix plus check
digits make false positives rare. ``meta.country`` is the ISO code (``EL`` → ``GR``).
"""

from __future__ import annotations

from collections.abc import Mapping

from stdnum.ch import uid as ch_uid
from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import DASH, HSPACE, MAX_CANDIDATE_CHARS, compact, meta

VAT_CONTEXT = (
    "vat", "vat id", "vat number", "vat no", "vat reg", "tax", "ust-idnr", "ust-id",
    "umsatzsteuer", "mwst", "tva", "iva", "btw", "moms", "alv", "dic", "nip", "cif",
    "nif", "partita iva",
)  # fmt: skip

_EU_PREFIXES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
)  # fmt: skip
_ISO_COUNTRY = {"EL": "GR", "XI": "GB", "CHE": "CH"}

_SEP = rf"(?:{HSPACE}?(?:{DASH}|\.){HSPACE}?|{HSPACE})"
_CHUNK = r"[A-Z]?\d[0-9A-Z]{0,3}"
_VAT = (
    rf"\b((?:{'|'.join(_EU_PREFIXES)}|GB|CHE){_SEP}?"
    rf"(?:[0-9A-Z]{{8,12}}|{_CHUNK}(?:{_SEP}{_CHUNK}){{1,5}}))\b"
)


def validate_vat(candidate: str) -> Mapping[str, str] | None:
    """Accept a prefixed VAT number valid under its country's rules; ``meta.country``."""
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    number = compact(candidate).replace(",", "")
    if number.startswith("CHE"):
        valid, prefix = ch_uid.is_valid(number[:12]), "CHE"  # the UID; suffix optional
    elif number.startswith("GB"):
        valid, prefix = gb_vat.is_valid(number), "GB"
    else:
        valid, prefix = eu_vat.is_valid(number), number[:2]
    if not valid or not any(ch.isdigit() for ch in number):
        return None
    return meta(country=_ISO_COUNTRY.get(prefix, prefix))


VAT_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.vat_id",
        data_class="pii.vat_id",
        regex=_VAT,
        group=1,
        score=0.8,
        validator=validate_vat,
        context=VAT_CONTEXT,
    ),
)
