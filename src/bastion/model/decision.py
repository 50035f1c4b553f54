"""What the policy decided for one call."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bastion.model.controls import OutputPlan, ToolPlan


class Action(StrEnum):
    """Actions ordered by strength (CONTRACT.md §6)."""

    ALLOW = "allow"
    REDACT = "redact"
    REROUTE = "reroute"
    REQUIRE_EXCEPTION = "require_exception"
    BLOCK = "block"
    SCAN = "scan"

    @property
    def strength(self) -> int:
        return _STRENGTH[self]


_STRENGTH = {
    Action.SCAN: 0,
    Action.ALLOW: 0,
    Action.REDACT: 1,
    Action.REROUTE: 2,
    Action.REQUIRE_EXCEPTION: 3,
    Action.BLOCK: 4,
}


TRANSFORM_STRENGTH: dict[str, int] = {
    "strip": 6,
    "drop": 5,
    "mask": 4,
    "hash": 3,
    "synthesize": 2,
    "pseudonymise": 1,
    "spotlight": 0,
}
"""When several rules redact one class, the strongest transform wins; in overlapping
spans too. ``strip`` removes a region (an injection) and says so; ``spotlight`` keeps
untrusted text but marks it as data."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer: action, rules that matched, route and a user-facing message."""

    action: Action = Action.ALLOW
    rules: tuple[str, ...] = ()
    policy_version: str | None = None
    route: str | None = None
    message: str | None = None
    redacted_classes: tuple[str, ...] = ()
    exception_id: str | None = None
    redactions: tuple[tuple[str, str], ...] = ()
    """(data class, transform) pairs the transform stage applies, e.g. ("pii.email", "mask")."""
    code: str | None = None
    """Error code of a refusal: ``policy_violation`` (default), ``exception_required`` or
    ``exception_invalid``."""
    exception_state: str | None = None
    """State of an exception the request named that did not apply (``expired``, ...)."""
    exception_hint: str | None = None
    """How the caller can get an exception for the refusing rule."""
    shadow_action: Action | None = None
    """What the policy would have done with its shadow rules enforced, when different."""
    shadow_rules: tuple[str, ...] = ()
    """Shadow rules that matched (decided and recorded, not enforced)."""
    logged_rules: tuple[str, ...] = ()
    """Matched rules marked ``log: true``."""
    tools: ToolPlan | None = None
    """Tool rules for this call (None: the policy has none; every tool is allowed)."""
    output: OutputPlan | None = None
    """Output rules for this call (None: the answer is only observed)."""

    @property
    def forwards(self) -> bool:
        """Whether the call goes upstream at all."""
        return self.action not in (Action.BLOCK, Action.REQUIRE_EXCEPTION, Action.SCAN)


ALLOW = Decision()
