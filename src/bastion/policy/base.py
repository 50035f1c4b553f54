"""The policy stage's interface: principal + request facts + findings → decision (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bastion.model import Conversation, Decision, Finding, Principal
from bastion.model.decision import ALLOW


class Decider(Protocol):
    """Decides one call; pure (no I/O), so it can be tested, explained and replayed."""

    @property
    def version(self) -> str | None:
        """``name@label+sha256[:12]`` of the active policy, or None when there is none."""
        ...

    def decide(
        self, principal: Principal, conversation: Conversation, findings: Sequence[Finding]
    ) -> Decision: ...


class AllowAll:
    """The decider used when no policy is loaded: every call is allowed as asked."""

    @property
    def version(self) -> str | None:
        return None

    def decide(
        self, principal: Principal, conversation: Conversation, findings: Sequence[Finding]
    ) -> Decision:
        return ALLOW
