"""Bastion's own credentials: gateway keys and admin tokens.

Both are ``<prefix>_<8-char id>_<32-char secret>`` in base62 (CONTRACT.md §1;
``bastion.identity.keys`` generates them). The format is restated here rather than
imported because detectors and identity are independent stages (import-linter);
a test checks the two agree. A key pasted into a prompt would reach the upstream
provider and its logs, so it is a leak like any vendor key.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.rows import row

ID_LENGTH = 8
SECRET_LENGTH = 32
GATEWAY_PREFIX = "bst"
ADMIN_PREFIX = "bat"


def _token(prefix: str) -> str:
    return rf"\b({prefix}_[A-Za-z0-9]{{{ID_LENGTH}}}_[A-Za-z0-9]{{{SECRET_LENGTH}}})\b"


CLASSES: Mapping[str, str] = {
    "secret.bastion_key": "Bastion gateway key (bst_…).",
    "secret.bastion_admin_token": "Bastion admin token (bat_…).",
}

PATTERNS: tuple[Pattern, ...] = (
    row("bastion", "key", _token(GATEWAY_PREFIX), group=1, score=0.95),
    row("bastion", "admin_token", _token(ADMIN_PREFIX), group=1, score=0.95),
)
