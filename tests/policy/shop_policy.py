"""The shop policy the explain and policy-testing suites decide with: its data classes,
the rules and exception both suites use, and the moment its exceptions are judged at.
Each suite adds the rules it is about, so it still reads the whole policy in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bastion.policy.document import Sensitivity

CLASSES: dict[str, Sensitivity] = {
    "pii.email": "confidential",
    "pii.credit_card": "restricted",
    "secret.aws_access_key": "restricted",
    "injection.indirect": "internal",
    "legal.contract": "confidential",
    "code.python": "confidential",
}
NOW = datetime(2027, 1, 1, tzinfo=UTC).timestamp()  # before every exception expires

SECRETS_BLOCK = """\
  - id: secrets.block
    match: {classes: ["secret.*"]}
    action: block
"""
INJECTION_SHADOW = """\
  - id: injection.shadow
    match: {classes: [injection.indirect], where: [retrieved]}
    action: block
    shadow: true
"""
CONTRACTS_INTERNAL = """\
  - id: contracts.internal
    match: {classes: [legal.contract]}
    action: reroute
    reroute: {to: internal}
"""
PII_REDACT = """\
  - id: pii.redact
    match: {classes: ["pii.*"], models: [gpt-4o]}
    action: redact
"""
EXC_BILLING = """\
  - id: exc-billing
    rule: cards.prod
    scope: {app: billing}
    justification: disputes
    expires: "2027-06-30T00:00:00Z"
"""


def shop_policy(rules: Sequence[str], exceptions: Sequence[str], version: str = "") -> str:
    """The shop policy's text: code monitored only, gpt-4o cleared up to confidential and
    internal up to restricted, then ``rules`` and ``exceptions`` in order."""
    return (
        "name: shop\n"
        + (f"version: {version}\n" if version else "")
        + 'classes:\n  "code.*": {mode: monitor}\n'
        + "models:\n"
        + "  gpt-4o: {max_sensitivity: confidential}\n"
        + "  internal: {max_sensitivity: restricted}\n"
        + "rules:\n"
        + "".join(rules)
        + "exceptions:\n"
        + "".join(exceptions)
    )
