"""What a decision lets the answer do: which tools, which tool calls, which output.

The policy resolves these for one call (its principal and routed model) when it
decides, and puts them on the :class:`~bastion.model.Decision`; the transform stage
strips tools the caller may not offer, and the answer side enforces tool calls and
output rules, complete or streamed (issue #5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal, Protocol

OnDisallowedOffer = Literal["strip", "refuse"]
OnDisallowedCall = Literal["remove", "refuse"]
OutputMode = Literal["window", "buffer"]
NOT_OFFERED_RULE = "tools.not_offered"
"""The rule a call to a tool the request did not offer (after stripping) is refused by."""


MCP_PREFIX = "mcp:"
"""MCP tools are named ``mcp:<server_label>``: a label is chosen by the caller, so it
gets a namespace of its own and cannot pass for an allowed function of the same name."""


def tool_name(tool: Any, *, legacy: bool = False) -> str | None:
    """The name a policy knows a tool (or a named ``tool_choice``) by; None when the
    entry names none. ``legacy``: an entry of chat's old ``functions`` list."""
    if not isinstance(tool, Mapping):
        return None
    if legacy:
        name = tool.get("name")
        return name if isinstance(name, str) else None
    kind = tool.get("type")
    if not isinstance(kind, str):
        return None
    if kind in ("function", "custom"):
        inner = tool.get(kind)  # chat nests the definition under its type
        name = inner.get("name") if isinstance(inner, Mapping) else tool.get("name")
        return name if isinstance(name, str) else None
    if kind == "mcp":
        label = tool.get("server_label")
        return f"{MCP_PREFIX}{label}" if isinstance(label, str) else MCP_PREFIX
    return kind


@dataclass(frozen=True, slots=True)
class ToolRefusal:
    """Why one tool (offered or called) is refused: the rule and a reason free of values."""

    tool: str
    rule: str
    reason: str


class ToolPlan(Protocol):
    """The tool rules of one call, resolved for its principal and model."""

    @property
    def on_disallowed_offer(self) -> OnDisallowedOffer: ...

    @property
    def on_disallowed_call(self) -> OnDisallowedCall: ...

    @property
    def max_calls(self) -> int | None:
        """At most this many tool calls per answer (per choice); None: no cap."""
        ...

    @property
    def cap_rule(self) -> str:
        """The rule calls beyond ``max_calls`` are refused by."""
        ...

    def offer(self, name: str) -> ToolRefusal | None:
        """Whether the tool ``name`` may be offered to the model; None: it may."""
        ...

    def call(self, name: str, arguments: str) -> ToolRefusal | None:
        """Whether the model may call ``name`` with these JSON ``arguments`` (the
        caller has checked the tool was offered); None: it may."""
        ...


@dataclass(frozen=True, slots=True)
class OutputAction:
    """What happens to a class found in the model's answer."""

    action: Literal["redact", "block"]
    rule: str
    transform: Literal["mask", "drop", "hash"] = "mask"
    dummies: bool = False
    """Also for documented example and filler credentials (the rule's ``match.dummies``)."""

    @property
    def strength(self) -> int:
        return 2 if self.action == "block" else 1


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """The output rules of one call: class globs → action, and how streams are held.

    ``window``: a stream is released in windows of ``window_chars`` characters of
    answer text (each held until scanned, with a short tail kept for values across the
    edge); ``buffer``: the whole answer is held and scanned before any of it is sent.
    """

    rules: tuple[tuple[str, OutputAction], ...] = ()
    mode: OutputMode = "window"
    window_chars: int = 256
    _cache: dict[tuple[str, bool], OutputAction | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def action_for(self, data_class: str, dummy: bool = False) -> OutputAction | None:
        """The strongest action any rule takes on ``data_class`` (first rule on a tie);
        a ``dummy`` finding only meets the rules with ``match.dummies``."""
        key = (data_class, dummy)
        try:
            return self._cache[key]
        except KeyError:
            pass
        best: OutputAction | None = None
        for pattern, action in self.rules:
            if (
                (action.dummies or not dummy)
                and fnmatchcase(data_class, pattern)
                and (best is None or action.strength > best.strength)
            ):
                best = action
        self._cache[key] = best
        return best

    @property
    def active(self) -> bool:
        return bool(self.rules)
