"""Pattern rows for personal data in the fast tier (``pii.*`` classes).

``pii_patterns()`` returns every row, built once on first use so that importing the
package stays cheap (the families import phonenumbers and python-stdnum). Rows are
grouped by family: ``contact`` (email, phone), ``financial`` (cards), ``iban``,
``government`` (US SSN, passport, US driver's licence), ``national_id``, ``vat``,
``network`` (IP, MAC) and ``dates`` (date of birth). Names, places and street addresses
come from other detectors.
"""

from __future__ import annotations

import functools

from bastion.detect.patterns import Pattern

__all__ = ["pii_patterns"]


@functools.cache
def pii_patterns() -> tuple[Pattern, ...]:
    """Every ``pii.*`` pattern row, in family order."""
    from bastion.detect.pii.contact import EMAIL_PATTERNS, PHONE_PATTERNS
    from bastion.detect.pii.dates import DATE_OF_BIRTH_PATTERNS
    from bastion.detect.pii.financial import CARD_PATTERNS
    from bastion.detect.pii.government import GOVERNMENT_PATTERNS
    from bastion.detect.pii.iban import IBAN_PATTERNS
    from bastion.detect.pii.national_id import NATIONAL_ID_PATTERNS
    from bastion.detect.pii.network import IP_PATTERNS, MAC_PATTERNS
    from bastion.detect.pii.vat import VAT_PATTERNS

    return (
        EMAIL_PATTERNS
        + PHONE_PATTERNS
        + CARD_PATTERNS
        + IBAN_PATTERNS
        + GOVERNMENT_PATTERNS
        + NATIONAL_ID_PATTERNS
        + VAT_PATTERNS
        + IP_PATTERNS
        + MAC_PATTERNS
        + DATE_OF_BIRTH_PATTERNS
    )
