"""The transform stage's interface: carry a decision out on the body, undo it on the answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bastion.model import Conversation, Decision, Finding


class AppliedTransform(Protocol):
    """What one call's transform did, so the answer can be restored.

    ``restorations`` maps each placeholder issued for this call to its original text
    (CONTRACT.md §9: only this call's placeholders are restored). The pipeline restores
    them in complete answers and across stream chunks. ``json_answer`` says the answer
    is itself a JSON document (the request asked for structured output), so an original
    goes back into it escaped as JSON string content, as in tool-call arguments.
    """

    @property
    def restorations(self) -> Mapping[str, str]: ...

    @property
    def json_answer(self) -> bool: ...


class Unrewritable(ValueError):
    """A finding the policy redacts sits where no string can be rewritten: a field name
    or identifier (``Segment.names``). Forwarding it unredacted would break the policy,
    so the call is refused instead; ``classes`` names what was found there."""

    def __init__(self, classes: Sequence[str]) -> None:
        super().__init__(f"cannot redact {', '.join(classes)} in a field name or identifier")
        self.classes = tuple(classes)


class Transformer(Protocol):
    """Rewrites the body to forward according to the decision (redact, mark, strip tools);
    raises ``Unrewritable`` when a redaction it must make has no string to rewrite."""

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
