"""Deciding one call: a pure function of (policy, facts, exceptions, time).

1. A named exception must exist and cover the caller (else ``exception_invalid``); a
   model outside the approved list is refused (rule ``model.unapproved``).
2. Pass one, on the requested model: ``block``, ``require_exception`` and ``reroute``
   rules decide whether the call goes and to which model (the first reroute wins).
3. Pass two, on the routed model: ``redact`` rules combine per class, the strongest
   transform winning (drop > mask > hash > synthesize > pseudonymise).
4. What still leaves unredacted must suit the routed model: no denied class, nothing
   above its ``max_sensitivity`` (rules ``model.deny_classes``, ``model.max_sensitivity``).

In both passes an ``allow`` rule takes the findings it matched away from later rules —
those of its classes at its places (``where``) and scores, not the class everywhere —
and one without a class condition takes the whole call. A rule waived by an exception that
applies is skipped and the exception recorded. Monitored classes are invisible to rules.
Shadow rules are evaluated in a second run with everything enforced; its action is the
shadow decision, and the shadow rules marked ``log`` that acted in it are logged.

A call that goes ahead also carries what its answer may do: the tool plan of the first
``tools.offer`` entry that holds for its principal and routed model, and the output plan
of the output rules (``where: [output]``) whose conditions other than classes hold —
the answer does not exist yet. Output rules never take part in the request's passes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from bastion.model import Action, Decision
from bastion.model.decision import TRANSFORM_STRENGTH
from bastion.model.exceptions import ExceptionState, PolicyException
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.compiler import (
    MODEL_DENY_CLASSES,
    MODEL_MAX_SENSITIVITY,
    MODEL_UNAPPROVED,
    SENSITIVITY_RANK,
    CompiledPolicy,
    CompiledRule,
)
from bastion.policy.tools import ResolvedToolPlan

_DEFAULT_BLOCK = "This request contains data the policy does not allow to leave: {classes}."
_DEFAULT_REQUIRE = (
    "This request needs an approved exception for rule {rule} (classes found: {classes})."
)
# rules on the caller, model, tools or endpoint alone: no data was found to name
_DEFAULT_BLOCK_PLAIN = "This request is not allowed by policy rule {rule}."
_DEFAULT_REQUIRE_PLAIN = "This request needs an approved exception for rule {rule}."
_HINT = (
    "Ask for an exception: `bastion exceptions request --rule {rule} --app <your app> "
    "--justification ... --expires 14d`; once approved it applies to your calls (or name it in the "
    "request's bastion.exception)."
)


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an explanation: a rule in a pass and what came of it."""

    rule: str
    stage: str
    outcome: str
    detail: str = ""


class _Marked(NamedTuple):
    """An enforced finding, the rules whose class globs accept its class, its
    sensitivity rank."""

    fact: ClassFact
    rules: int
    rank: int


_Taken = tuple[str, str, bool]
"""A finding an allow rule took: (class, where, dummy), as ``ClassFact`` has them."""


@dataclass(slots=True)
class _Outcome:
    """What one run over the rules produced."""

    blocks: list[tuple[CompiledRule | str, list[str]]] = field(default_factory=list)
    requires: list[tuple[CompiledRule, list[str]]] = field(default_factory=list)
    route: str | None = None
    reroutes: list[str] = field(default_factory=list)
    allows: list[str] = field(default_factory=list)
    redact_rules: list[str] = field(default_factory=list)
    redactions: dict[str, str] = field(default_factory=dict)
    exception_id: str | None = None
    logged: list[str] = field(default_factory=list)
    shadow_rules: list[str] = field(default_factory=list)

    @property
    def action(self) -> Action:
        if self.blocks:
            return Action.BLOCK
        if self.requires:
            return Action.REQUIRE_EXCEPTION
        if self.route is not None:
            return Action.REROUTE
        if self.redactions:
            return Action.REDACT
        return Action.ALLOW


def evaluate(
    policy: CompiledPolicy,
    facts: CallFacts,
    exceptions: Sequence[PolicyException] = (),
    now: float = 0.0,
    trace: list[Step] | None = None,
) -> Decision:
    """Decide one call (module docstring); ``trace`` collects an explanation if given."""
    every = (*policy.static_exceptions, *exceptions)
    named: PolicyException | None = None
    if facts.exception_id is not None:
        named = next((e for e in every if e.id == facts.exception_id), None)
        if named is None or not named.in_scope(facts.principal):
            if trace is not None:
                trace.append(Step("-", "exception", "invalid", facts.exception_id))
            if policy.document.shadow:  # nothing is enforced, not even this
                return Decision(Action.ALLOW, (), policy.version, shadow_action=Action.BLOCK)
            return Decision(
                Action.BLOCK,
                (),
                policy.version,
                message=f"The exception {facts.exception_id[:64]!r} does not exist or does "
                "not cover this caller.",
                code="exception_invalid",
            )
    waivers = _waivers(every, facts, now)
    if not policy.approves(facts.model):
        if policy.document.shadow:  # nothing is enforced, not even model approval
            return Decision(
                Action.ALLOW,
                (),
                policy.version,
                shadow_action=Action.BLOCK,
                shadow_rules=(MODEL_UNAPPROVED,),
            )
        if trace is not None:
            trace.append(Step(MODEL_UNAPPROVED, "model", "block", facts.model))
        return Decision(
            Action.BLOCK,
            (MODEL_UNAPPROVED,),
            policy.version,
            message=f"The policy does not approve the model {facts.model[:128]!r}.",
        )
    enforced = []
    for fact in facts.classes:
        profile = policy.profile(fact.data_class)
        if profile.monitored:
            continue
        rules = profile.rules & policy.dummy_rules if fact.dummy else profile.rules
        enforced.append(_Marked(fact, rules, profile.rank))
    principal = policy.principal_mask(facts.principal)
    candidates = _candidates(policy, facts, enforced, principal)
    shadow: _Outcome | None = None
    if policy.document.shadow or candidates & policy.shadow_rules:
        # only when a shadow rule could take part: otherwise it equals the real run
        shadow = _run(policy, facts, enforced, waivers, candidates, None)
    if policy.document.shadow:
        real = _Outcome()
    else:
        real = _run(policy, facts, enforced, waivers, candidates & policy.enforced, trace)
    shadow_action: Action | None = None
    shadow_rules: tuple[str, ...] = ()
    if shadow is not None:
        matched = (
            *_ids(shadow.blocks),
            *_ids(shadow.requires),
            *shadow.reroutes,
            *shadow.redact_rules,
            *shadow.allows,
        )
        shadow_rules = tuple(r for r in matched if r in policy.shadow_ids)
        # a shadow rule marked log is logged when it would act: the real run never sees it
        for rule_id in shadow.logged:
            if rule_id in policy.shadow_ids and rule_id not in real.logged:
                real.logged.append(rule_id)
        if shadow.action is not real.action or shadow.route != real.route:
            shadow_action = shadow.action
    plans = _NO_PLANS
    goes_ahead = not (real.blocks or real.requires)
    if goes_ahead and (policy.tools is not None or policy.output_rules):
        plans = _answer_plans(policy, facts, real, principal, waivers, trace)
    return _decision(policy, facts, real, named, now, shadow_action, shadow_rules, plans)


class _Plans(NamedTuple):
    """What the answer of a call that goes ahead may do: its tool plan and the mask of
    the output rules that apply to it."""

    tools: ResolvedToolPlan | None
    output: int


_NO_PLANS = _Plans(None, 0)


def _answer_plans(
    policy: CompiledPolicy,
    facts: CallFacts,
    outcome: _Outcome,
    principal: int,
    waivers: dict[str, str],
    trace: list[Step] | None,
) -> _Plans:
    """The tool plan and output rules for the routed model; an exception waiving an
    output rule is recorded on ``outcome``."""
    target = outcome.route or facts.model
    tools = None
    if policy.tools is not None:
        tools = policy.tools.plan_for(facts.principal, target)
    output = policy.output_rules & principal
    conditions = policy.output_conditions
    if output and conditions:
        dims = policy.dimensions
        if "models" in conditions:
            output &= dims["models"].mask(target)
        if "providers" in conditions:
            provider = facts.provider or policy.model_providers.get(facts.model)
            output &= dims["providers"].mask(policy.model_providers.get(target, provider or ""))
        if "endpoints" in conditions:
            output &= dims["endpoints"].mask(facts.endpoint)
        if "tools" in conditions:
            output &= dims["tools"].mask_any(facts.tools)
    if output and (waivers or trace is not None):
        mask = output
        while mask:
            low = mask & -mask
            mask ^= low
            rule = policy.rules[low.bit_length() - 1]
            waiver = waivers.get(rule.id)
            if waiver is not None:
                output ^= low
                outcome.exception_id = outcome.exception_id or waiver
            if trace is not None:
                outcome_text = "waived" if waiver else f"answer: {rule.action}"
                detail = waiver or ", ".join(rule.class_globs or ())
                trace.append(Step(rule.id, "output", outcome_text, detail))
    return _Plans(tools, output)


def _waivers(exceptions: Sequence[PolicyException], facts: CallFacts, now: float) -> dict[str, str]:
    """Rule id → id of the exception that waives it for this caller now."""
    waivers: dict[str, str] = {}
    for exception in exceptions:
        if not exception.in_force(now):
            continue
        if not exception.in_scope(facts.principal) or exception.rule in waivers:
            continue
        waivers[exception.rule] = exception.id
    if facts.exception_id is not None:  # the named one wins where it applies
        for exception in exceptions:
            if exception.id == facts.exception_id and exception.applies(
                facts.principal, exception.rule, now
            ):
                waivers[exception.rule] = exception.id
    return waivers


def _candidates(
    policy: CompiledPolicy, facts: CallFacts, enforced: Sequence[_Marked], principal: int
) -> int:
    """Rules whose principal, endpoint, tool and class conditions the call meets."""
    mask = policy.classes.free
    for marked in enforced:
        mask |= marked.rules
    mask &= principal
    if not mask:
        return 0
    dims = policy.dimensions
    return mask & dims["tools"].mask_any(facts.tools) & dims["endpoints"].mask(facts.endpoint)


def _run(
    policy: CompiledPolicy,
    facts: CallFacts,
    enforced: Sequence[_Marked],
    waivers: dict[str, str],
    candidates: int,
    trace: list[Step] | None,
) -> _Outcome:
    """One run over the ``candidates`` rules: pass one, pass two, the model guard."""
    outcome = _Outcome()
    dims = policy.dimensions
    provider = facts.provider or policy.model_providers.get(facts.model)
    first = (
        candidates
        & policy.pass_one
        & dims["models"].mask(facts.model)
        & dims["providers"].mask(provider)
    )
    taken: set[_Taken] = set()
    whole_call = _pass(policy, first, enforced, taken, waivers, outcome, "pass 1", trace)
    if outcome.blocks or outcome.requires:
        return outcome
    if outcome.route == facts.model:  # rerouted to where it was going anyway
        outcome.route = None
    target = outcome.route or facts.model
    if not whole_call:
        second = (
            candidates
            & policy.pass_two
            & dims["models"].mask(target)
            & dims["providers"].mask(policy.model_providers.get(target, provider or ""))
        )
        taken = set()
        _pass(policy, second, enforced, taken, waivers, outcome, "pass 2", trace)
    _guard_model(policy, target, enforced, waivers, outcome, trace)
    return outcome


def _pass(
    policy: CompiledPolicy,
    mask: int,
    enforced: Sequence[_Marked],
    taken: set[_Taken],
    waivers: dict[str, str],
    outcome: _Outcome,
    stage: str,
    trace: list[Step] | None,
) -> bool:
    """Run the rules in ``mask`` in order; True when an allow rule took the whole call."""
    rules = policy.rules
    while mask:
        low = mask & -mask
        mask ^= low
        rule = rules[low.bit_length() - 1]
        classes: list[str] = []
        facts: list[_Taken] = []
        if rule.class_globs is not None:
            classes, facts = _matched_classes(rule, enforced, taken)
            if not classes:
                if trace is not None:
                    trace.append(Step(rule.id, stage, "no match", _why_no_classes(rule, taken)))
                continue
        waiver = waivers.get(rule.id)
        if waiver is not None and rule.action != "allow":
            outcome.exception_id = outcome.exception_id or waiver
            if trace is not None:
                trace.append(Step(rule.id, stage, "waived", waiver))
            continue
        if trace is not None:
            trace.append(Step(rule.id, stage, rule.action, ", ".join(classes)))
        if rule.log and rule.id not in outcome.logged:
            outcome.logged.append(rule.id)
        action = rule.action
        if action == "allow":
            if rule.id not in outcome.allows:  # allow rules take part in both passes
                outcome.allows.append(rule.id)
            if rule.class_globs is None:
                return True
            taken.update(facts)
        elif action == "block":
            outcome.blocks.append((rule, classes))
        elif action == "require_exception":
            outcome.requires.append((rule, classes))
        elif action == "reroute":
            if outcome.route is None:
                outcome.route = rule.route
            outcome.reroutes.append(rule.id)
        else:
            outcome.redact_rules.append(rule.id)
            for data_class in classes:
                current = outcome.redactions.get(data_class)
                stronger = current is None or (
                    TRANSFORM_STRENGTH[rule.transform] > TRANSFORM_STRENGTH[current]
                )
                if stronger:
                    outcome.redactions[data_class] = rule.transform
    return False


def _matched_classes(
    rule: CompiledRule, enforced: Sequence[_Marked], taken: set[_Taken]
) -> tuple[list[str], list[_Taken]]:
    """Classes of the call this rule matches (honouring where, min_score, min_count),
    and the findings it matched them in (what an allow rule takes)."""
    count = 0
    matched: list[str] = []
    facts: list[_Taken] = []
    bit = rule.bit
    for fact, rules, _ in enforced:
        if not rules & bit:
            continue
        key = (fact.data_class, fact.where, fact.dummy)
        if key in taken:
            continue
        if rule.where is not None and fact.where not in rule.where:
            continue
        if fact.score < rule.min_score:
            continue
        count += fact.count
        facts.append(key)
        if fact.data_class not in matched:
            matched.append(fact.data_class)
    return (matched, facts) if count >= rule.min_count else ([], [])


def _why_no_classes(rule: CompiledRule, taken: set[_Taken]) -> str:
    parts = []
    if taken:
        names = sorted({f"{name} in {where}" for name, where, _ in taken})
        parts.append(f"taken by allow rules: {', '.join(names)}")
    if rule.where is not None:
        parts.append(f"where {sorted(rule.where)}")
    if rule.min_score:
        parts.append(f"min_score {rule.min_score}")
    if rule.min_count > 1:
        parts.append(f"min_count {rule.min_count}")
    return "no finding of its classes" + (f" ({'; '.join(parts)})" if parts else "")


def _guard_model(
    policy: CompiledPolicy,
    model: str,
    enforced: Sequence[_Marked],
    waivers: dict[str, str],
    outcome: _Outcome,
    trace: list[Step] | None,
) -> None:
    """Refuse classes that would reach ``model`` unredacted and do not suit it."""
    if not enforced or policy.approved is None or model not in policy.approved:
        return
    limit, denied_globs = policy.approved[model]
    redacted = outcome.redactions
    leaving = {  # a dummy is no credential: the limits are about real data
        m.fact.data_class: m.rank
        for m in enforced
        if m.fact.data_class not in redacted and not m.fact.dummy
    }
    if not leaving:
        return
    ceiling = SENSITIVITY_RANK[limit]
    denied = sorted(c for c in leaving if any(fnmatch.fnmatchcase(c, g) for g in denied_globs))
    too_sensitive = sorted(c for c, rank in leaving.items() if rank > ceiling)
    for rule, classes in ((MODEL_DENY_CLASSES, denied), (MODEL_MAX_SENSITIVITY, too_sensitive)):
        if not classes:
            continue
        waiver = waivers.get(rule)
        if waiver is not None:
            outcome.exception_id = outcome.exception_id or waiver
            if trace is not None:
                trace.append(Step(rule, "model", "waived", waiver))
            continue
        if trace is not None:
            trace.append(Step(rule, "model", "block", f"{model}: {', '.join(classes)}"))
        outcome.blocks.append((rule, classes))


def _decision(
    policy: CompiledPolicy,
    facts: CallFacts,
    outcome: _Outcome,
    named: PolicyException | None,
    now: float,
    shadow_action: Action | None,
    shadow_rules: tuple[str, ...],
    plans: _Plans = _NO_PLANS,
) -> Decision:
    action = outcome.action
    if (
        action is Action.ALLOW
        and named is None
        and shadow_action is None
        and not (outcome.allows or outcome.logged or outcome.exception_id or shadow_rules)
    ):
        if plans.tools is None and not plans.output:
            return policy.allow  # the common case: nothing to say beyond the version
        return policy.allow_with(plans.tools, plans.output)
    named_state = None
    if named is not None and named.state_at(now) is not ExceptionState.APPROVED:
        named_state = named.state_at(now).value
    if action is Action.BLOCK:
        first, classes = outcome.blocks[0]
        rule_id = first if isinstance(first, str) else first.id
        template = _DEFAULT_BLOCK if classes else _DEFAULT_BLOCK_PLAIN
        if isinstance(first, str):
            template = _guard_message(first, facts.model if not outcome.route else outcome.route)
        elif first.message:
            template = first.message
        return Decision(
            Action.BLOCK,
            _ids(outcome.blocks),
            policy.version,
            message=_fill(template, rule_id, classes),
            exception_hint=_HINT.format(rule=rule_id),
            logged_rules=tuple(outcome.logged),
            exception_state=named_state,
            shadow_action=shadow_action,
            shadow_rules=shadow_rules,
        )
    if action is Action.REQUIRE_EXCEPTION:
        rule, classes = outcome.requires[0]
        default = _DEFAULT_REQUIRE if classes else _DEFAULT_REQUIRE_PLAIN
        message = _fill(rule.message or default, rule.id, classes)
        if named is not None and named_state is not None:
            message += f" The exception {named.id!r} is {named_state}."
        return Decision(
            Action.REQUIRE_EXCEPTION,
            _ids(outcome.requires),
            policy.version,
            message=message,
            code="exception_required",
            exception_hint=_HINT.format(rule=rule.id),
            logged_rules=tuple(outcome.logged),
            exception_state=named_state,
            shadow_action=shadow_action,
            shadow_rules=shadow_rules,
        )
    return Decision(
        action,
        (*outcome.allows, *outcome.reroutes, *outcome.redact_rules),
        policy.version,
        route=outcome.route,
        redacted_classes=tuple(sorted(outcome.redactions)),
        redactions=tuple(sorted(outcome.redactions.items())),
        exception_id=outcome.exception_id,
        logged_rules=tuple(outcome.logged),
        exception_state=named_state,
        shadow_action=shadow_action,
        shadow_rules=shadow_rules,
        tools=plans.tools,
        output=policy.output_plan(plans.output),
    )


def _guard_message(rule: str, model: str) -> str:
    if rule == MODEL_DENY_CLASSES:
        return f"The model {model!r} may not receive {{classes}}."
    return f"The model {model!r} may not receive data as sensitive as {{classes}}."


def _fill(template: str, rule: str, classes: Sequence[str]) -> str:
    names = ", ".join(sorted(classes)) or "none"
    return template.replace("{classes}", names).replace("{rule}", rule)


def _ids(entries: Sequence[tuple[CompiledRule | str, list[str]]]) -> tuple[str, ...]:
    return tuple(e if isinstance(e, str) else e.id for e, _ in entries)
