"""A validated policy document compiled once into what evaluation needs.

Rules become bit positions; every condition becomes a per-value bit mask (computed on
first use and cached), so evaluating a call ANDs a handful of integers and then looks at
the few rules that can still match, in order — however many rules the policy has.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, NamedTuple

from bastion.model import Action, Decision, Principal
from bastion.model.controls import OutputAction, OutputPlan
from bastion.model.exceptions import ExceptionState, PolicyException
from bastion.policy.document import (
    RESERVED_TOOL_RULES,
    ClassSetting,
    OutputSection,
    OutputTransformName,
    PolicyDocument,
    Rule,
    Sensitivity,
    StaticException,
)
from bastion.policy.tools import ResolvedToolPlan, ToolRules, ToolRulesError

SENSITIVITY_RANK: dict[str, int] = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}
UNKNOWN_SENSITIVITY: Sensitivity = "confidential"
"""Sensitivity of a class the registry does not know (e.g. in old recorded facts)."""

MODEL_UNAPPROVED = "model.unapproved"
MODEL_MAX_SENSITIVITY = "model.max_sensitivity"
MODEL_DENY_CLASSES = "model.deny_classes"
BUILT_IN_RULES = (MODEL_UNAPPROVED, MODEL_MAX_SENSITIVITY, MODEL_DENY_CLASSES)

PRINCIPAL_DIMENSIONS = ("key_id", "name", "user", "app", "team", "environment", "owner")
_CACHE_LIMIT = 4096


class PolicyError(ValueError):
    """A policy that is well-formed YAML but inconsistent; ``where`` is its key path."""

    def __init__(self, where: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule, ready to evaluate; ``bit`` is ``1 << index``."""

    index: int
    id: str
    action: str
    transform: str
    message: str | None
    route: str | None
    log: bool
    shadow: bool
    output: bool
    """Acts on the model's answer (``where: [output]``); never on the request."""
    class_globs: tuple[str, ...] | None
    min_score: float
    min_count: int
    dummies: bool
    """Counts documented example and filler credentials (``match.dummies``)."""
    where: frozenset[str] | None
    source: Rule

    @property
    def bit(self) -> int:
        return 1 << self.index


class Dimension:
    """One matchable property (``app``, ``models``, ``tools``, ...): which rules accept a
    value. Rules without a condition on it accept every value."""

    __slots__ = ("_cache", "_conditions", "free", "name")

    def __init__(self, name: str, conditions: Iterable[tuple[int, Sequence[str] | None]]) -> None:
        self.name = name
        self.free = 0
        self._conditions: list[tuple[int, tuple[str, ...]]] = []
        for bit, globs in conditions:
            if globs is None:
                self.free |= bit
            else:
                self._conditions.append((bit, tuple(globs)))
        self._cache: dict[str | None, int] = {}

    def mask(self, value: str | None) -> int:
        """Rules that accept ``value`` (None: the field is unset; only free rules)."""
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        mask = self.free
        if value is not None:
            for bit, globs in self._conditions:
                if any(fnmatch.fnmatchcase(value, glob) for glob in globs):
                    mask |= bit
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[value] = mask
        return mask

    def mask_any(self, values: Iterable[str]) -> int:
        """Rules that accept at least one of ``values`` (multi-valued: roles, tools)."""
        mask = self.free
        for value in values:
            mask |= self.mask(value)
        return mask


class ClassProfile(NamedTuple):
    """A class as this policy sees it: monitored only, the rules its name can trigger,
    its sensitivity rank."""

    monitored: bool
    rules: int
    rank: int


@dataclass(slots=True)
class CompiledPolicy:
    """Everything evaluation needs; immutable in use (its caches only memoise)."""

    document: PolicyDocument
    version: str
    rules: tuple[CompiledRule, ...]
    dimensions: dict[str, Dimension]
    classes: Dimension
    """Rules whose class globs accept a class (``free`` = rules without a class condition)."""
    pass_one: int
    pass_two: int
    """Request-side rules of each pass (output rules are in neither)."""
    enforced: int
    """Rules enforced (not shadow); 0 when the whole policy is in shadow mode."""
    dummy_rules: int
    """Rules that count documented example and filler credentials (``match.dummies``);
    the rest never see them, and the model limits take them as public."""
    shadow_rules: int
    """Rules marked ``shadow: true`` (a shadow run is needed only when one can match)."""
    shadow_ids: frozenset[str]
    """Ids whose decisions are shadow only (every id, built-ins too, in a shadow policy)."""
    static_exceptions: tuple[PolicyException, ...]
    approved: Mapping[str, tuple[Sensitivity, tuple[str, ...]]] | None
    """Approved model → (max sensitivity, denied class globs); None: every model."""
    defaults: Mapping[str, Sensitivity]
    model_providers: dict[str, str] = field(default_factory=dict)
    allow: Decision = field(default_factory=Decision)
    """The decision for a call nothing applies to (built once, with the version)."""
    output_rules: int = 0
    """Enforced output rules (not shadow); 0 in a shadow policy."""
    output_conditions: frozenset[str] = frozenset()
    """Call dimensions (``models``, ``providers``, ``endpoints``, ``tools``) some output
    rule has a condition on: the others need no look-up."""
    output: OutputSection = field(default_factory=OutputSection)
    tools: ToolRules | None = None
    """The ``tools:`` section compiled (None: absent, or a shadow policy)."""
    _output_plans: dict[int, OutputPlan] = field(default_factory=dict)
    _allows: dict[tuple[ResolvedToolPlan | None, int], Decision] = field(default_factory=dict)
    _settings: list[tuple[str, ClassSetting]] = field(default_factory=list)
    _modes: dict[str, bool] = field(default_factory=dict)
    _sensitivity: dict[str, Sensitivity] = field(default_factory=dict)
    _principals: dict[Principal, int] = field(default_factory=dict)
    _profiles: dict[str, ClassProfile] = field(default_factory=dict)

    def profile(self, data_class: str) -> ClassProfile:
        """What evaluation needs of a class, in one cached lookup."""
        cached = self._profiles.get(data_class)
        if cached is None:
            cached = ClassProfile(
                self.monitored(data_class),
                self.classes.mask(data_class),
                SENSITIVITY_RANK[self.sensitivity(data_class)],
            )
            if len(self._profiles) < _CACHE_LIMIT:
                self._profiles[data_class] = cached
        return cached

    def principal_mask(self, principal: Principal) -> int:
        """Rules whose principal conditions the caller meets (cached per principal: a
        key's principal is the same object call after call)."""
        cached = self._principals.get(principal)
        if cached is not None:
            return cached
        dims = self.dimensions
        mask = dims["roles"].mask_any(principal.roles)
        for name in PRINCIPAL_DIMENSIONS:
            mask &= dims[name].mask(getattr(principal, name))
        if len(self._principals) < _CACHE_LIMIT:
            self._principals[principal] = mask
        return mask

    def output_plan(self, rules: int) -> OutputPlan | None:
        """The plan of the output rules in the mask ``rules`` (None: no rule), built once
        per set of rules so its per-class cache is shared by the calls it serves."""
        if not rules:
            return None
        plan = self._output_plans.get(rules)
        if plan is None:
            entries: list[tuple[str, OutputAction]] = []
            mask = rules
            while mask:
                low = mask & -mask
                mask ^= low
                rule = self.rules[low.bit_length() - 1]
                action = _output_action(rule)
                entries.extend((glob, action) for glob in rule.class_globs or ())
            settings = self.output
            plan = OutputPlan(tuple(entries), settings.mode, settings.window_chars)
            if len(self._output_plans) < _CACHE_LIMIT:
                self._output_plans[rules] = plan
        return plan

    def allow_with(self, tools: ResolvedToolPlan | None, output: int) -> Decision:
        """The allow decision carrying the tool plan ``tools`` and the output plan of the
        rules in the mask ``output`` (built once per pair)."""
        key = (tools, output)
        decision = self._allows.get(key)
        if decision is None:
            decision = replace(self.allow, tools=tools, output=self.output_plan(output))
            if len(self._allows) < _CACHE_LIMIT:
                self._allows[key] = decision
        return decision

    def approves(self, model: str) -> bool:
        """Whether the policy lets calls ask for ``model`` at all."""
        return self.approved is None or model in self.approved

    def monitored(self, data_class: str) -> bool:
        """Whether findings of ``data_class`` are recorded only, never acted on."""
        cached = self._modes.get(data_class)
        if cached is None:
            cached = self._setting(data_class, "mode") == "monitor"
            if len(self._modes) < _CACHE_LIMIT:
                self._modes[data_class] = cached
        return cached

    def sensitivity(self, data_class: str) -> Sensitivity:
        """The class's sensitivity: the policy's override, else the registry's default."""
        cached = self._sensitivity.get(data_class)
        if cached is None:
            override = self._setting(data_class, "sensitivity")
            cached = override or self.defaults.get(data_class, UNKNOWN_SENSITIVITY)
            if len(self._sensitivity) < _CACHE_LIMIT:
                self._sensitivity[data_class] = cached
        return cached

    def _setting(self, data_class: str, name: str) -> Any:
        """``name`` from the most specific ``classes`` entry that sets it for the class."""
        for glob, setting in self._settings:
            if name in setting.model_fields_set and fnmatch.fnmatchcase(data_class, glob):
                return getattr(setting, name)
        return None


def compile_policy(
    document: PolicyDocument,
    version: str,
    class_sensitivity: Mapping[str, Sensitivity],
) -> CompiledPolicy:
    """Check ``document`` against the class registry and compile it.

    Raises ``PolicyError`` naming the key path for: a class glob that matches no known
    class, a repeated rule id, a reroute to an unapproved model or one whose
    ``max_sensitivity`` is below the classes the rule matches, an exception for an
    unknown rule.
    """
    rules = tuple(_compile_rule(i, rule) for i, rule in enumerate(document.rules))
    _check_ids(rules)
    tools = _compile_tools(document, rules)
    known = list(class_sensitivity)
    for rule in rules:
        for glob in rule.class_globs or ():
            _check_glob(glob, known, ("rules", rule.index, "match", "classes"))
    for glob in document.classes:
        _check_glob(glob, known, ("classes", glob))
    approved = None
    if document.models is not None:
        approved = {
            name: (entry.max_sensitivity, tuple(entry.deny_classes))
            for name, entry in document.models.items()
        }
        for name, entry in document.models.items():
            for glob in entry.deny_classes:
                _check_glob(glob, known, ("models", name, "deny_classes"))
    compiled = CompiledPolicy(
        document=document,
        version=version,
        rules=rules,
        dimensions=_dimensions(rules),
        classes=Dimension("classes", ((r.bit, r.class_globs) for r in rules)),
        pass_one=_mask(rules, ("allow", "block", "require_exception", "reroute")),
        pass_two=_mask(rules, ("allow", "redact")),
        enforced=0 if document.shadow else sum(r.bit for r in rules if not r.shadow),
        dummy_rules=sum(r.bit for r in rules if r.dummies),
        shadow_rules=sum(r.bit for r in rules if r.shadow and not r.output),
        shadow_ids=frozenset(
            (*(r.id for r in rules), *BUILT_IN_RULES)
            if document.shadow
            else (r.id for r in rules if r.shadow)
        ),
        static_exceptions=tuple(_static_exception(e) for e in document.exceptions),
        approved=approved,
        defaults=dict(class_sensitivity),
    )
    compiled.allow = Decision(Action.ALLOW, (), version)
    if not document.shadow:  # a shadow policy enforces nothing, on answers neither
        compiled.output_rules = sum(r.bit for r in rules if r.output and not r.shadow)
        compiled.output_conditions = frozenset(
            name
            for name in ("models", "providers", "endpoints", "tools")
            for rule in rules
            if rule.bit & compiled.output_rules and getattr(rule.source.match, name) is not None
        )
        compiled.tools = tools
    compiled.output = document.output or OutputSection()
    compiled._settings = sorted(  # most specific first: exact names, then longer globs
        document.classes.items(), key=lambda item: ("*" not in item[0], len(item[0])), reverse=True
    )
    _check_reroutes(compiled, known)
    # Approval is the policy's own list: an exception cannot approve a model.
    waivable = {rule.id for rule in rules} | {MODEL_MAX_SENSITIVITY, MODEL_DENY_CLASSES}
    for index, exception in enumerate(document.exceptions):
        if exception.rule not in waivable:
            raise PolicyError(
                ("exceptions", index, "rule"),
                f"no rule {exception.rule!r} in this policy that an exception can waive",
            )
        if (problem := unwaivable(compiled, exception.rule)) is not None:
            raise PolicyError(("exceptions", index, "rule"), problem)
    return compiled


def unwaivable(policy: CompiledPolicy, rule: str) -> str | None:
    """Why an exception to ``rule`` would waive nothing under ``policy``: the rule refuses
    no call an exception could let through. None when it can be waived, and when the
    policy has no such rule (an exception may be meant for a rule still to come)."""
    if rule == MODEL_UNAPPROVED:
        return (
            f"rule {rule!r} cannot be waived: only the policy approves models "
            "(list the model under the policy's models)"
        )
    tools = policy.document.tools
    if rule in RESERVED_TOOL_RULES or (
        tools is not None
        and rule in {entry.id for entry in (*(tools.offer or ()), *tools.constraints)}
    ):
        return (
            f"rule {rule!r} is a tool rule, and exceptions do not waive tool rules "
            "(change the policy's tools section)"
        )
    action = next((r.action for r in policy.rules if r.id == rule), None)
    if action == "allow":
        return (
            f"rule {rule!r} is an allow rule: it refuses no call, so an exception to it "
            "would waive nothing (ask for one to the rule a refusal names in "
            "x-bastion-rules)"
        )
    return None


def _compile_rule(index: int, rule: Rule) -> CompiledRule:
    match = rule.match
    output = rule.acts_on_output
    return CompiledRule(
        index=index,
        id=rule.id or f"rule-{index + 1}",
        action=rule.action,
        transform=rule.transform or ("mask" if output else "pseudonymise"),
        message=rule.message,
        route=rule.reroute.to if rule.reroute else None,
        log=rule.log,
        shadow=rule.shadow,
        output=output,
        class_globs=tuple(match.classes) if match.classes is not None else None,
        min_score=match.min_score,
        min_count=match.min_count,
        dummies=match.dummies,
        where=frozenset(match.where) if match.where is not None else None,
        source=rule,
    )


def _output_action(rule: CompiledRule) -> OutputAction:
    transform: OutputTransformName = "mask"
    if rule.transform in ("drop", "hash"):
        transform = "drop" if rule.transform == "drop" else "hash"
    action: Literal["redact", "block"] = "block" if rule.action == "block" else "redact"
    return OutputAction(action, rule.id, transform, rule.dummies)


def _dimensions(rules: Sequence[CompiledRule]) -> dict[str, Dimension]:
    def conditions(name: str) -> list[tuple[int, Sequence[str] | None]]:
        return [(r.bit, getattr(r.source.match, name)) for r in rules]

    names = (*PRINCIPAL_DIMENSIONS, "roles", "models", "providers", "tools", "endpoints")
    return {name: Dimension(name, conditions(name)) for name in names}


def _mask(rules: Sequence[CompiledRule], actions: tuple[str, ...]) -> int:
    """Request-side rules taking one of ``actions``."""
    return sum(rule.bit for rule in rules if rule.action in actions and not rule.output)


def _compile_tools(document: PolicyDocument, rules: Sequence[CompiledRule]) -> ToolRules | None:
    if document.tools is None:
        return None
    try:
        tools = ToolRules(document.tools)
    except ToolRulesError as exc:
        raise PolicyError(("tools", *exc.where), str(exc)) from exc
    for rule in rules:
        if rule.id in tools.ids or rule.id in RESERVED_TOOL_RULES:
            raise PolicyError(
                ("rules", rule.index, "id"), f"rule id {rule.id!r} is also a tool rule id"
            )
    return tools


def _check_ids(rules: Sequence[CompiledRule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise PolicyError(("rules", rule.index, "id"), f"rule id {rule.id!r} is repeated")
        seen.add(rule.id)


def _check_glob(glob: str, known: Sequence[str], where: tuple[str | int, ...]) -> None:
    if not any(fnmatch.fnmatchcase(name, glob) for name in known):
        raise PolicyError(where, f"{glob!r} matches no data class (`bastion classes` lists them)")


def _check_reroutes(policy: CompiledPolicy, known: Sequence[str]) -> None:
    for rule in policy.rules:
        if rule.route is None:
            continue
        where: tuple[str | int, ...] = ("rules", rule.index, "reroute", "to")
        if policy.approved is None:
            continue
        if rule.route not in policy.approved:
            raise PolicyError(where, f"reroute target {rule.route!r} is not an approved model")
        limit = policy.approved[rule.route][0]
        for glob in rule.class_globs or ():
            for name in known:
                if not fnmatch.fnmatchcase(name, glob):
                    continue
                sensitivity = policy.sensitivity(name)
                if SENSITIVITY_RANK[sensitivity] > SENSITIVITY_RANK[limit]:
                    raise PolicyError(
                        where,
                        f"{rule.route!r} takes data up to {limit}, but this rule sends it "
                        f"{name} ({sensitivity})",
                    )


def _static_exception(entry: StaticException) -> PolicyException:
    scope = tuple(
        (name, value) for name, value in entry.scope.model_dump().items() if value is not None
    )
    return PolicyException(
        id=entry.id,
        rule=entry.rule,
        scope=scope,
        state=ExceptionState.APPROVED,
        expires_at=_timestamp(entry.expires),
        justification=entry.justification,
        owner=entry.owner,
        approver=entry.approver,
        static=True,
    )


def _timestamp(moment: datetime) -> float:
    return moment.timestamp()
