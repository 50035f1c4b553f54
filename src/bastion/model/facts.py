"""The facts a policy decides on: who, which model, what was found where, which tools.

They are built from a live call and rebuilt from its audit record, so a past call can be
re-decided under another policy without its prompt text (replay).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bastion.model.conversation import Conversation
from bastion.model.finding import ANSWER, REQUEST, Finding
from bastion.model.principal import Principal

WHERE = ("system", "user", "assistant", "retrieved", "tool_result", "metadata", "output")
"""Where a finding can sit: a segment's provenance, or ``output`` for the answer."""


@dataclass(frozen=True, slots=True)
class ClassFact:
    """``count`` findings of one class at one place, the best of them scored ``score``.

    ``where`` is a segment source (``user``, ``retrieved``, ...), ``output`` for the
    answer, or ``request`` for findings about the request as a whole
    (``content.unscanned``).
    """

    data_class: str
    where: str
    score: float
    count: int = 1
    dummy: bool = False
    """A documented example or filler credential (``Finding.dummy``): rules count it only
    with ``match.dummies: true``, and it is public for the model limits."""


@dataclass(frozen=True, slots=True)
class CallFacts:
    """Everything a policy rule can match on, and nothing else."""

    principal: Principal
    endpoint: str
    model: str
    classes: tuple[ClassFact, ...] = ()
    provider: str | None = None
    tools: tuple[str, ...] = ()
    exception_id: str | None = None

    @property
    def class_names(self) -> frozenset[str]:
        return frozenset(fact.data_class for fact in self.classes)


def call_facts(
    principal: Principal,
    conversation: Conversation,
    findings: Sequence[Finding],
    provider: str | None = None,
) -> CallFacts:
    """The facts of a live call: one ``ClassFact`` per finding, placed by its segment."""
    segments = conversation.segments
    classes = []
    for finding in findings:
        if finding.segment == REQUEST:
            where = "request"
        elif finding.segment == ANSWER:
            where = "output"
        else:
            where = segments[finding.segment].source.value
        classes.append(ClassFact(finding.data_class, where, finding.score, dummy=finding.dummy))
    return CallFacts(
        principal=principal,
        endpoint=conversation.endpoint.value,
        model=conversation.model,
        classes=tuple(classes),
        provider=provider,
        tools=conversation.tools,
        exception_id=conversation.exception_id,
    )


def class_set_digest(classes: Iterable[str]) -> str:
    """The id of a set of class names: sha256 (hex) of the sorted names, one per line.

    A call record names the class set its detectors could report, so replay can tell
    a class that was not found from one that was not looked for.
    """
    return hashlib.sha256("\n".join(sorted(set(classes))).encode("utf-8")).hexdigest()
