"""What changed between two policy documents (``bastion policy diff``).

Structural, not textual: the name and version label, class settings, approved models,
rules by id (added, removed, changed keys, moved), exceptions by id and the number of
test cases. Comments and layout do not count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from bastion.policy.document import PolicyDocument, Rule


@dataclass(frozen=True, slots=True)
class Change:
    """One key whose value differs (``None``: absent on that side)."""

    key: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class Section:
    """Entries of one keyed part of the policy (classes, models, rules, exceptions)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: Mapping[str, tuple[Change, ...]] = field(default_factory=dict)
    moved: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Rules only: id → (old position, new position), 1-based, among the kept rules."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": {
                name: [c.to_json() for c in changes] for name, changes in self.changed.items()
            },
            "moved": {name: list(pos) for name, pos in self.moved.items()},
        }


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """Everything that differs between two policies."""

    header: tuple[Change, ...]
    classes: Section
    models: Section
    rules: Section
    exceptions: Section
    tests: tuple[int, int]

    @property
    def empty(self) -> bool:
        sections = (self.classes, self.models, self.rules, self.exceptions)
        return not self.header and all(s.empty for s in sections) and self.tests[0] == self.tests[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "same": self.empty,
            "policy": [c.to_json() for c in self.header],
            "classes": self.classes.to_json(),
            "models": self.models.to_json(),
            "rules": self.rules.to_json(),
            "exceptions": self.exceptions.to_json(),
            "tests": {"old": self.tests[0], "new": self.tests[1]},
        }


def diff_policies(
    old: PolicyDocument, new: PolicyDocument, tests: tuple[int, int] | None = None
) -> PolicyDiff:
    """Compare two documents; ``tests`` overrides the case counts (to add sidecar files)."""
    header = _changes(
        _plain(old, exclude=_SECTIONS),
        _plain(new, exclude=_SECTIONS),
    )
    old_models = {k: _plain(v) for k, v in (old.models or {}).items()}
    new_models = {k: _plain(v) for k, v in (new.models or {}).items()}
    if (old.models is None) != (new.models is None):
        header.append(Change("models", _approval(old), _approval(new)))
    return PolicyDiff(
        header=tuple(header),
        classes=_section(
            {k: _plain(v) for k, v in old.classes.items()},
            {k: _plain(v) for k, v in new.classes.items()},
        ),
        models=_section(old_models, new_models),
        rules=_rules(old.rules, new.rules),
        exceptions=_section(
            {e.id: _plain(e) for e in old.exceptions},
            {e.id: _plain(e) for e in new.exceptions},
        ),
        tests=tests if tests is not None else (len(old.tests), len(new.tests)),
    )


def _approval(document: PolicyDocument) -> str:
    return "every model" if document.models is None else "listed models only"


_SECTIONS = frozenset({"classes", "models", "rules", "exceptions", "tests"})


def rule_ids(rules: list[Rule]) -> list[str]:
    """Rule ids as the compiler assigns them (``rule-<n>`` when a rule has none)."""
    return [rule.id or f"rule-{index + 1}" for index, rule in enumerate(rules)]


def _rules(old: list[Rule], new: list[Rule]) -> Section:
    old_ids, new_ids = rule_ids(old), rule_ids(new)
    section = _section(
        {i: _plain(r) for i, r in zip(old_ids, old, strict=True)},
        {i: _plain(r) for i, r in zip(new_ids, new, strict=True)},
    )
    kept_old = [i for i in old_ids if i in new_ids]
    kept_new = [i for i in new_ids if i in old_ids]
    moved = {
        rule: (kept_old.index(rule) + 1, position + 1)
        for position, rule in enumerate(kept_new)
        if kept_old.index(rule) != position
    }
    return Section(section.added, section.removed, section.changed, moved)


def _section(old: Mapping[str, Any], new: Mapping[str, Any]) -> Section:
    changed = {}
    for name in old:
        if name in new:
            changes = _changes(old[name], new[name])
            if changes:
                changed[name] = tuple(changes)
    return Section(
        added=tuple(n for n in new if n not in old),
        removed=tuple(n for n in old if n not in new),
        changed=changed,
    )


def _changes(old: Any, new: Any, prefix: str = "") -> list[Change]:
    """Differing leaves of two nested mappings, keyed ``a.b``; lists compare whole."""
    if isinstance(old, dict) or isinstance(new, dict):
        old = old if isinstance(old, dict) else {}
        new = new if isinstance(new, dict) else {}
        changes = []
        for key in (*old, *(k for k in new if k not in old)):
            name = f"{prefix}.{key}" if prefix else str(key)
            changes += _changes(old.get(key), new.get(key), name)
        return changes
    return [] if old == new else [Change(prefix, old, new)]


def _plain(model: BaseModel, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A model as JSON values, without keys left at their defaults."""
    data: dict[str, Any] = model.model_dump(
        mode="json", exclude_defaults=True, by_alias=True, exclude=set(exclude)
    )
    return data
