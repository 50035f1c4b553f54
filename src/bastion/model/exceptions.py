"""Policy exceptions: a time-boxed, approved waiver of one rule for a scoped caller."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bastion.model.principal import Principal


class ExceptionState(StrEnum):
    """requested → approved | denied; approved → revoked | expired."""

    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"


SCOPE_FIELDS = ("app", "team", "user", "key_id")
"""Principal fields an exception can be scoped to (every one given must match)."""


@dataclass(frozen=True, slots=True)
class PolicyException:
    """One exception. Static ones come from the policy file, dynamic ones from the store.

    ``scope`` holds ``(field, value)`` pairs of ``SCOPE_FIELDS``; an exception with no
    scope applies to no one. ``expires_at`` is a Unix time (None: no expiry, allowed
    for static exceptions only).
    """

    id: str
    rule: str
    scope: tuple[tuple[str, str], ...]
    state: ExceptionState = ExceptionState.APPROVED
    expires_at: float | None = None
    justification: str = ""
    owner: str | None = None
    requester: str | None = None
    approver: str | None = None
    created_at: float | None = None
    uses: int = 0
    static: bool = False
    suspended: bool = False
    """Approved, but the gateway cannot confirm it still is (its store has been out of
    sight too long, so a revocation could be missed): it waives nothing meanwhile."""

    def in_scope(self, principal: Principal) -> bool:
        """Whether this exception covers the caller."""
        if not self.scope:
            return False
        return all(getattr(principal, name) == value for name, value in self.scope)

    def state_at(self, now: float) -> ExceptionState:
        """The state at ``now``: an approved exception past its expiry is expired."""
        if (
            self.state is ExceptionState.APPROVED
            and self.expires_at is not None
            and now >= self.expires_at
        ):
            return ExceptionState.EXPIRED
        return self.state

    def applies(self, principal: Principal, rule: str, now: float) -> bool:
        """Approved, unexpired, not suspended, for this rule and this caller."""
        return self.rule == rule and self.in_force(now) and self.in_scope(principal)

    def in_force(self, now: float) -> bool:
        """Approved and unexpired at ``now``, and not suspended."""
        return not self.suspended and self.state_at(now) is ExceptionState.APPROVED
