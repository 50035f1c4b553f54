"""The detection stage's interface: texts in, findings out (no decisions here)."""

from __future__ import annotations

from typing import Protocol

from bastion.model import Conversation, Finding


class Inspector(Protocol):
    """Runs the configured detectors over every segment of a conversation.

    Returns findings whose ``segment`` indexes ``conversation.segments``. May raise
    ``ServiceUnavailable(code="guardrail_unavailable")`` when a detector a blocking rule
    needs cannot run; must not raise anything else for any text.
    """

    def inspect(self, conversation: Conversation) -> list[Finding]: ...


class NoDetectors:
    """The inspector used until detectors are configured: finds nothing."""

    def inspect(self, conversation: Conversation) -> list[Finding]:
        return []
