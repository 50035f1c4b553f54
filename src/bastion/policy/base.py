"""The policy stage's interface: the facts of a call (+ exceptions, time) → decision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bastion.errors import ServiceUnavailable
from bastion.model import Decision
from bastion.model.decision import ALLOW
from bastion.model.exceptions import PolicyException
from bastion.model.facts import CallFacts


class Decider(Protocol):
    """Decides one call; pure (no I/O), so it can be tested, explained and replayed."""

    @property
    def version(self) -> str | None:
        """``name@label+sha256[:12]`` of the active policy, or None when there is none."""
        ...

    def approves(self, model: str) -> bool:
        """Whether callers may ask for ``model`` (``/v1/models`` lists only these)."""
        ...

    def decide(
        self,
        facts: CallFacts,
        exceptions: Sequence[PolicyException] = (),
        now: float | None = None,
    ) -> Decision: ...


class AllowAll:
    """The decider used when no policy is loaded: every call is allowed as asked."""

    @property
    def version(self) -> str | None:
        return None

    def approves(self, model: str) -> bool:
        return True

    def decide(
        self,
        facts: CallFacts,
        exceptions: Sequence[PolicyException] = (),
        now: float | None = None,
    ) -> Decision:
        return ALLOW


class PolicyUnavailable:
    """The decider while a policy is required but none valid is loaded: every call is
    refused (fail closed, never allow-all) with 503 ``guardrail_unavailable``."""

    MESSAGE = (
        "The gateway has no valid policy loaded, so it refuses calls; an administrator "
        "can activate one with `bastion policy activate FILE`."
    )

    @property
    def version(self) -> str | None:
        return None

    def approves(self, model: str) -> bool:
        raise ServiceUnavailable(self.MESSAGE, code="guardrail_unavailable")

    def decide(
        self,
        facts: CallFacts,
        exceptions: Sequence[PolicyException] = (),
        now: float | None = None,
    ) -> Decision:
        raise ServiceUnavailable(self.MESSAGE, code="guardrail_unavailable")
