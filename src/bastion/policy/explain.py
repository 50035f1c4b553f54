"""Why a policy decided one call as it did (``bastion policy explain``).

The decision comes from ``evaluate`` with a trace. Rules the trace shows are explained by
their steps; for the others (not candidates, shadow rules, rules never tried because the
call was refused first) each condition of the rule's ``match`` is checked against the
facts here. Findings are shown by class, place and score, never by value.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bastion.model import Decision
from bastion.model.decision import Action
from bastion.model.exceptions import ExceptionState, PolicyException
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.compiler import PRINCIPAL_DIMENSIONS, CompiledPolicy, CompiledRule
from bastion.policy.evaluate import Step
from bastion.policy.loader import Policy

_PASS_ONE = ("block", "require_exception", "reroute")


@dataclass(frozen=True, slots=True)
class RuleExplanation:
    """One rule: whether it matched (or was waived) and why."""

    id: str
    action: str
    shadow: bool
    matched: bool
    reason: str
    steps: tuple[Step, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "shadow": self.shadow,
            "matched": self.matched,
            "reason": self.reason,
            "steps": [
                {"stage": s.stage, "outcome": s.outcome, "detail": s.detail} for s in self.steps
            ],
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything ``explain`` shows for one call."""

    policy: str
    facts: CallFacts
    findings: tuple[dict[str, Any], ...]
    rules: tuple[RuleExplanation, ...]
    checks: tuple[Step, ...]
    """Steps of the built-in rules (``model.*``) and of a named exception."""
    exceptions: tuple[dict[str, Any], ...]
    decision: Decision

    def to_json(self) -> dict[str, Any]:
        principal = self.facts.principal
        return {
            "policy": self.policy,
            "call": {
                "principal": {
                    **{name: getattr(principal, name) for name in PRINCIPAL_DIMENSIONS},
                    "roles": list(principal.roles),
                },
                "endpoint": self.facts.endpoint,
                "model": self.facts.model,
                "provider": self.facts.provider,
                "tools": list(self.facts.tools),
                "exception": self.facts.exception_id,
            },
            "findings": list(self.findings),
            "rules": [rule.to_json() for rule in self.rules],
            "checks": [
                {"rule": s.rule, "stage": s.stage, "outcome": s.outcome, "detail": s.detail}
                for s in self.checks
            ],
            "exceptions": list(self.exceptions),
            "decision": decision_json(self.decision, self.facts),
        }


def explain(
    policy: Policy,
    facts: CallFacts,
    exceptions: Sequence[PolicyException],
    now: float,
) -> Explanation:
    """Decide ``facts`` under ``policy`` at ``now`` and say why, rule by rule."""
    trace: list[Step] = []
    decision = policy.decide(facts, exceptions, now, trace)
    compiled = policy.compiled
    rule_ids = {rule.id for rule in compiled.rules}
    return Explanation(
        policy=policy.version,
        facts=facts,
        findings=tuple(_finding(compiled, fact) for fact in facts.classes),
        rules=tuple(_rule(compiled, rule, facts, trace, decision) for rule in compiled.rules),
        checks=tuple(step for step in trace if step.rule not in rule_ids),
        exceptions=tuple(
            _exception(e, facts, decision, trace, now)
            for e in (*compiled.static_exceptions, *exceptions)
        ),
        decision=decision,
    )


_REFUSAL_CODE = {Action.BLOCK: "policy_violation", Action.REQUIRE_EXCEPTION: "exception_required"}
"""The error code a refused caller gets when the decision names none (gateway._refusal)."""


def decision_json(decision: Decision, facts: CallFacts) -> dict[str, Any]:
    """The decision as ``explain --json`` shows it; ``code`` is the one a caller gets."""
    return {
        "action": decision.action.value,
        "rules": list(decision.rules),
        "model": decision.route or facts.model,
        "rerouted": decision.route is not None,
        "redactions": dict(decision.redactions),
        "message": decision.message,
        "code": decision.code or _REFUSAL_CODE.get(decision.action),
        "exception": decision.exception_id,
        "exception_state": decision.exception_state,
        "shadow_decision": decision.shadow_action.value if decision.shadow_action else None,
        "shadow_rules": list(decision.shadow_rules),
        "logged_rules": list(decision.logged_rules),
        "policy_version": decision.policy_version,
    }


def _finding(policy: CompiledPolicy, fact: ClassFact) -> dict[str, Any]:
    return {
        "class": fact.data_class,
        "where": fact.where,
        "score": fact.score,
        "count": fact.count,
        "sensitivity": policy.sensitivity(fact.data_class),
        "monitored": policy.monitored(fact.data_class),
        "dummy": fact.dummy,
    }


def _rule(
    policy: CompiledPolicy,
    rule: CompiledRule,
    facts: CallFacts,
    trace: Sequence[Step],
    decision: Decision,
) -> RuleExplanation:
    shadow = rule.shadow or policy.document.shadow
    steps = tuple(step for step in trace if step.rule == rule.id)
    if steps:
        matched = any(step.outcome != "no match" for step in steps)
        reason = "; ".join(_step_text(step) for step in steps)
        return RuleExplanation(rule.id, rule.action, shadow, matched, reason, steps)
    if rule.output:
        reason = _output_reason(policy, rule, facts, decision, shadow)
        return RuleExplanation(rule.id, rule.action, shadow, False, reason)
    if rule.id in decision.shadow_rules:
        reason = "matched in the shadow run: decided and recorded, not enforced"
        return RuleExplanation(rule.id, rule.action, shadow, True, reason)
    model = facts.model
    if rule.action not in _PASS_ONE and decision.route is not None:
        model = decision.route  # redact and allow rules see the routed model in pass 2
    unmet = unmet_conditions(policy, rule, facts, model, routed=model != facts.model)
    if unmet:
        reason = "no match: " + "; ".join(unmet)
    elif shadow:
        reason = "shadow rule: did not match in the shadow run"
    else:
        reason = "not tried: " + _why_not_tried(rule, decision)
    return RuleExplanation(rule.id, rule.action, shadow, False, reason)


def _output_reason(
    policy: CompiledPolicy,
    rule: CompiledRule,
    facts: CallFacts,
    decision: Decision,
    shadow: bool,
) -> str:
    """Why an output rule is not in this call's output plan."""
    if shadow:
        return "output rule in shadow mode: answers are not checked against it"
    if not decision.forwards:
        return "output rule: the call was refused, so there is no answer to check"
    model = decision.route or facts.model
    unmet = unmet_conditions(policy, rule, facts, model, routed=model != facts.model, classes=False)
    return "output rule, not for this call: " + "; ".join(unmet)


def _step_text(step: Step) -> str:
    text = f"{step.stage}: {step.outcome}"
    return f"{text} ({step.detail})" if step.detail else text


def _why_not_tried(rule: CompiledRule, decision: Decision) -> str:
    if decision.code == "exception_invalid":
        return "the named exception was refused before any rule ran"
    if decision.rules[:1] == ("model.unapproved",):
        return "the model is not approved, so no rule ran"
    if not decision.forwards:
        return "the call was refused in pass 1, so pass 2 (redaction) did not run"
    return "an allow rule without classes took the whole call in pass 1"


def unmet_conditions(
    policy: CompiledPolicy,
    rule: CompiledRule,
    facts: CallFacts,
    model: str,
    *,
    routed: bool = False,
    classes: bool = True,
) -> list[str]:
    """Each condition of ``rule`` the call does not meet, in words (empty: all met).

    ``model`` is the model the rule is matched against (the routed one in pass 2);
    ``classes=False`` leaves out the class conditions (output rules: no answer yet).
    """
    match = rule.source.match
    principal = facts.principal
    unmet = []
    for name in PRINCIPAL_DIMENSIONS:
        globs = getattr(match, name)
        if globs is not None and not _accepts(globs, getattr(principal, name)):
            unmet.append(_differs(name, getattr(principal, name), globs))
    for name, values in (("roles", principal.roles), ("tools", facts.tools)):
        globs = getattr(match, name)
        if globs is not None and not any(_accepts(globs, v) for v in values):
            shown = ", ".join(values) or "none"
            unmet.append(f"{name}: {shown} — none matches {', '.join(globs)}")
    if match.endpoints is not None and facts.endpoint not in match.endpoints:
        unmet.append(_differs("endpoint", facts.endpoint, match.endpoints))
    if match.models is not None and not _accepts(match.models, model):
        unmet.append(_differs("routed model" if routed else "model", model, match.models))
    if match.providers is not None:
        provider = facts.provider or policy.model_providers.get(model)
        if not _accepts(match.providers, provider):
            unmet.append(_differs("provider", provider, match.providers))
    if classes and rule.class_globs is not None:
        problem = _classes_unmet(policy, rule, facts.classes)
        if problem:
            unmet.append(problem)
    return unmet


def _classes_unmet(
    policy: CompiledPolicy, rule: CompiledRule, classes: Sequence[ClassFact]
) -> str | None:
    globs = rule.class_globs or ()
    of_rule = [f for f in classes if _accepts(globs, f.data_class)]
    wanted = ", ".join(globs)
    monitored = sorted({f.data_class for f in of_rule if policy.monitored(f.data_class)})
    enforced = [f for f in of_rule if not policy.monitored(f.data_class)]
    if not enforced:
        extra = f" ({', '.join(monitored)} found but monitored only)" if monitored else ""
        return f"classes: no finding of {wanted}{extra}"
    if not rule.dummies:
        real = [f for f in enforced if not f.dummy]
        if not real:
            return (
                f"dummies: only documented example or filler credentials of {wanted}"
                " (the rule counts them with dummies: true)"
            )
        enforced = real
    placed = [f for f in enforced if rule.where is None or f.where in rule.where]
    if not placed:
        found = ", ".join(sorted({f"{f.data_class} in {f.where}" for f in enforced}))
        return f"where: {found}; the rule looks only in {', '.join(sorted(rule.where or ()))}"
    scored = [f for f in placed if f.score >= rule.min_score]
    if not scored:
        best = max(f.score for f in placed)
        return f"min_score: best score {best:.2f} is below {rule.min_score}"
    count = sum(f.count for f in scored)
    if count < rule.min_count:
        return f"min_count: {count} finding(s), the rule needs {rule.min_count}"
    return None


def _accepts(globs: Sequence[str], value: str | None) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, glob) for glob in globs)


def _differs(name: str, value: str | None, globs: Sequence[str]) -> str:
    if value is None:
        return f"{name}: not set; the rule needs {', '.join(globs)}"
    return f"{name}: {value!r} matches none of {', '.join(globs)}"


def _exception(
    exception: PolicyException,
    facts: CallFacts,
    decision: Decision,
    trace: Sequence[Step],
    now: float,
) -> dict[str, Any]:
    state = exception.state_at(now)
    waived = any(step.outcome == "waived" and step.detail == exception.id for step in trace)
    in_scope = exception.in_scope(facts.principal)
    if waived or decision.exception_id == exception.id:
        verdict = f"applied: waived {exception.rule}"
    elif not in_scope:
        verdict = "does not cover this caller"
    elif state is not ExceptionState.APPROVED:
        verdict = f"does not apply: {state.value}"
    elif exception.suspended:
        verdict = "does not apply: its store is unreachable, a revocation could be missed"
    else:
        verdict = f"covers this caller, but rule {exception.rule} did not match"
    return {
        "id": exception.id,
        "rule": exception.rule,
        "scope": dict(exception.scope),
        "static": exception.static,
        "state": state.value,
        "expires_at": exception.expires_at,
        "named": exception.id == facts.exception_id,
        "in_scope": in_scope,
        "verdict": verdict,
    }
