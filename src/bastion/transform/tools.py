"""Stripping the tools a caller may not offer from a request body.

One vocabulary names a tool everywhere (:func:`bastion.model.controls.tool_name`): a
function or custom tool by its name, an MCP server as ``mcp:<server_label>``, any other hosted tool
(``web_search``, ``file_search``, ``code_interpreter``, ...) by its ``type``. The same
function reads Chat Completions shapes (``{"type": "function", "function": {"name"}}``,
legacy ``functions[]``), Responses shapes (``{"type": "function", "name"}``) and the
named forms of ``tool_choice``, so one body never needs its endpoint to be stripped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.model.controls import ToolPlan, ToolRefusal, tool_name

_FAMILIES = (
    ("tools", "tool_choice", ("parallel_tool_calls",)),
    ("functions", "function_call", ()),
)
"""Each list of tools, the field that chooses among them, and fields meaningless
without them (OpenAI refuses ``tool_choice`` or ``parallel_tool_calls`` without tools)."""


@dataclass(frozen=True, slots=True)
class ToolStrip:
    """A body with the disallowed tools removed, what was removed and what is left."""

    body: dict[str, Any]
    """The body to forward (the input object itself when nothing changed)."""
    stripped: tuple[ToolRefusal, ...]
    """One refusal per tool removed, in body order."""
    offered: frozenset[str]
    """Names of the tools still offered to the model."""


def strip_tools(body: dict[str, Any], plan: ToolPlan) -> ToolStrip:
    """Remove from ``body`` every tool ``plan`` does not let this caller offer.

    Chat Completions (``tools``, legacy ``functions``) and Responses (``tools``) bodies
    alike; the input is never mutated (the body is copied when something changes).
    A ``tool_choice`` (or ``function_call``) that named a stripped tool becomes
    ``"auto"``: the caller wanted a tool used, and ``auto`` still lets the model use
    the allowed ones — ``"required"`` would force a tool the caller never picked, and
    ``"none"`` would take away tools the policy allows. An ``allowed_tools`` choice
    loses the stripped entries (``"auto"`` when none is left). When a list loses its
    last tool, it goes with its choice field (and ``parallel_tool_calls``): without
    tools that is what ``"none"`` means, and OpenAI refuses those fields alone.

    Refusing the whole call instead (``on_disallowed_offer: refuse``) is the caller's
    move: ``stripped`` is not empty.
    """
    stripped: list[ToolRefusal] = []
    offered: set[str] = set()
    out = body
    for field, choice, companions in _FAMILIES:
        tools = body.get(field)
        if not isinstance(tools, list) or not tools:
            continue
        legacy = field == "functions"
        kept = []
        removed: set[str] = set()
        for tool in tools:
            name = tool_name(tool, legacy=legacy)
            checked = name if name is not None else _unnamed(tool)
            refusal = plan.offer(checked)
            if refusal is None:
                kept.append(tool)
                if name is not None:
                    offered.add(name)
            else:
                stripped.append(refusal)
                removed.add(checked)
        if not removed:
            continue
        if out is body:
            out = dict(body)
        if kept:
            out[field] = kept
            fixed = _fixed_choice(body.get(choice), removed, legacy)
            if fixed is not None:
                out[choice] = fixed
        else:
            for name in (field, choice, *companions):
                out.pop(name, None)
    return ToolStrip(out, tuple(stripped), frozenset(offered))


def _unnamed(tool: Any) -> str:
    """What an entry without a name is checked as: its type, else the empty name."""
    kind = tool.get("type") if isinstance(tool, Mapping) else None
    return kind if isinstance(kind, str) else ""


def _fixed_choice(choice: Any, removed: set[str], legacy: bool) -> Any:
    """The choice to send instead of ``choice``, or None to keep it as it is."""
    if not isinstance(choice, Mapping):
        return None  # "none", "auto", "required" name no tool
    if choice.get("type") == "allowed_tools":
        return _fixed_allowed(choice, removed)
    name = tool_name(choice, legacy=legacy)
    return "auto" if name is not None and name in removed else None


def _fixed_allowed(choice: Mapping[str, Any], removed: set[str]) -> Any:
    # Chat nests {mode, tools} under "allowed_tools"; Responses puts them on the choice.
    nested = choice.get("allowed_tools")
    holder: Mapping[str, Any] = nested if isinstance(nested, Mapping) else choice
    listed = holder.get("tools")
    if not isinstance(listed, list):
        return None
    kept = [entry for entry in listed if tool_name(entry) not in removed]
    if len(kept) == len(listed):
        return None
    if not kept:
        return "auto"
    if holder is choice:
        return {**choice, "tools": kept}
    return {**choice, "allowed_tools": {**holder, "tools": kept}}
