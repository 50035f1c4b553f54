"""The transform stage's interface: carry a decision out on the body, undo it on the answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bastion.model import Conversation, Decision, Finding


class AppliedTransform(Protocol):
    """What one call's transform did, able to restore the answer (also per stream window)."""

    def restore_text(self, text: str) -> str:
        """Restore placeholders issued for this call in a complete answer text."""
        ...


class Transformer(Protocol):
    """Rewrites the body to forward according to the decision (redact, mark, strip tools)."""

    def apply(
        self,
        body: dict[str, Any],
        conversation: Conversation,
        findings: Sequence[Finding],
        decision: Decision,
    ) -> tuple[dict[str, Any], AppliedTransform | None]: ...


class NoTransform:
    """The transformer used when nothing needs changing: the body goes as parsed."""

    def apply(
        self,
        body: dict[str, Any],
        conversation: Conversation,
        findings: Sequence[Finding],
        decision: Decision,
    ) -> tuple[dict[str, Any], AppliedTransform | None]:
        return body, None
