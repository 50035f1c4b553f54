"""The detection stage's interface: texts in, findings out (no decisions here)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from bastion.model import Conversation, Finding


class Inspector(Protocol):
    """Runs the configured detectors over every segment of a conversation.

    Returns findings whose ``segment`` indexes ``conversation.segments``. May raise
    ``ServiceUnavailable(code="guardrail_unavailable")`` when a detector a blocking rule
    needs cannot run; must not raise anything else for any text.
    """

    def inspect(self, conversation: Conversation) -> list[Finding]: ...

    def scan_text(
        self, text: str, source: str, *, all_scores: bool = False
    ) -> tuple[list[Finding], dict[str, Any]]:
        """One text, scanned once: its reported findings and the scan-format report of
        CONTRACT.md §8 (with ``all_scores``: candidates below threshold, ``doc_scores``)."""
        ...

    def inspect_answer(self, text: str, stand_ins: Collection[str] = ()) -> list[Finding]:
        """Findings in a piece of the model's answer (``segment`` is ``ANSWER``);
        ``stand_ins``: what restoration replaces in this call's answer (a link holding
        one carries the original out once restored)."""
        ...


class NoDetectors:
    """The inspector used until detectors are configured: finds nothing."""

    def inspect(self, conversation: Conversation) -> list[Finding]:
        return []

    def scan_text(
        self, text: str, source: str, *, all_scores: bool = False
    ) -> tuple[list[Finding], dict[str, Any]]:
        return [], ({"findings": [], "doc_scores": {}} if all_scores else {"findings": []})

    def inspect_answer(self, text: str, stand_ins: Collection[str] = ()) -> list[Finding]:
        return []
