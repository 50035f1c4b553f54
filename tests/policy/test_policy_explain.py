"""Explaining one decision: the rule that matched, why the others did not, exceptions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.policy.shop_policy import (
    CLASSES,
    CONTRACTS_INTERNAL,
    EXC_BILLING,
    INJECTION_SHADOW,
    NOW,
    PII_REDACT,
    SECRETS_BLOCK,
    shop_policy,
)

from bastion.model import Principal
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.explain import Explanation, RuleExplanation, explain
from bastion.policy.loader import Policy, parse_policy

CODE_BLOCK = """\
  - id: code.block
    match: {classes: ["code.*"]}
    action: block
"""
CARDS_PROD = """\
  - id: cards.prod
    match: {classes: [pii.credit_card], environment: prod, roles: [payments]}
    action: require_exception
"""
MAIL_CONFIDENT = """\
  - id: mail.confident
    match: {classes: [pii.email], min_score: 0.9, min_count: 2}
    action: redact
    transform: mask
"""
EXC_OTHER = """\
  - id: exc-other
    rule: cards.prod
    scope: {team: other}
    justification: other
    expires: "2027-06-30T00:00:00Z"
"""
POLICY = shop_policy(
    rules=[
        SECRETS_BLOCK,
        CODE_BLOCK,
        INJECTION_SHADOW,
        CONTRACTS_INTERNAL,
        CARDS_PROD,
        MAIL_CONFIDENT,
        PII_REDACT,
    ],
    exceptions=[EXC_BILLING, EXC_OTHER],
)
DEV = Principal(key_id="k", name="n")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(POLICY, "shop.yaml", CLASSES)


def facts(*classes: ClassFact, model: str = "gpt-4o", principal: Principal = DEV) -> CallFacts:
    return CallFacts(principal, "chat.completions", model, classes)


def rule(result: Explanation, rule_id: str) -> RuleExplanation:
    return next(r for r in result.rules if r.id == rule_id)


def test_the_matching_rule_and_why_the_others_did_not(policy: Policy) -> None:
    result = explain(
        policy,
        facts(ClassFact("pii.email", "user", 0.8), ClassFact("code.python", "user", 1.0)),
        (),
        NOW,
    )
    assert result.decision.action.value == "redact"
    matched = rule(result, "pii.redact")
    assert matched.matched and matched.reason == "pass 2: redact (pii.email)"
    assert rule(result, "secrets.block").reason == ("no match: classes: no finding of secret.*")
    assert rule(result, "code.block").reason == (
        "no match: classes: no finding of code.* (code.python found but monitored only)"
    )
    # A candidate that the trace shows not matching keeps evaluate's own words.
    confident = rule(result, "mail.confident")
    assert not confident.matched and "min_score 0.9" in confident.reason
    assert [f["class"] for f in result.findings] == ["pii.email", "code.python"]
    assert result.findings[1]["monitored"] is True


def test_principal_conditions_are_named_with_the_value_found(policy: Policy) -> None:
    card = ClassFact("pii.credit_card", "user", 1.0)
    result = explain(policy, facts(card), (), NOW)
    assert rule(result, "cards.prod").reason == (
        "no match: environment: 'dev' matches none of prod; roles: none — none matches payments"
    )


def test_redaction_rules_are_matched_against_the_routed_model(policy: Policy) -> None:
    result = explain(
        policy,
        facts(ClassFact("legal.contract", "user", 1.0), ClassFact("pii.email", "user", 1.0)),
        (),
        NOW,
    )
    assert result.decision.route == "internal"
    assert rule(result, "contracts.internal").matched
    assert rule(result, "pii.redact").reason == (
        "no match: routed model: 'internal' matches none of gpt-4o"
    )


def test_a_documented_dummy_is_named_as_why_a_rule_did_not_match(policy: Policy) -> None:
    dummy = ClassFact("secret.aws_access_key", "user", 0.9, dummy=True)
    result = explain(policy, facts(dummy), (), NOW)
    assert result.decision.action.value == "allow"
    assert rule(result, "secrets.block").reason == (
        "no match: dummies: only documented example or filler credentials of secret.*"
        " (the rule counts them with dummies: true)"
    )
    assert result.findings[0]["dummy"] is True
    real = ClassFact("secret.aws_access_key", "user", 0.9)
    assert rule(explain(policy, facts(dummy, real), (), NOW), "secrets.block").matched


def test_where_and_count_conditions(policy: Policy) -> None:
    result = explain(policy, facts(ClassFact("injection.indirect", "user", 1.0)), (), NOW)
    assert rule(result, "injection.shadow").reason == (
        "no match: where: injection.indirect in user; the rule looks only in retrieved"
    )
    result = explain(policy, facts(ClassFact("pii.email", "user", 0.95)), (), NOW)
    assert rule(result, "mail.confident").reason.startswith("pass 2: no match")


def test_a_shadow_rule_that_matched_says_so(policy: Policy) -> None:
    result = explain(policy, facts(ClassFact("injection.indirect", "retrieved", 0.9)), (), NOW)
    shadow = rule(result, "injection.shadow")
    assert shadow.matched and shadow.shadow
    assert "shadow run" in shadow.reason
    assert result.to_json()["decision"]["shadow_decision"] == "block"


def test_rules_after_a_refusal_were_not_tried(policy: Policy) -> None:
    result = explain(
        policy,
        facts(ClassFact("secret.aws_access_key", "user", 1.0), ClassFact("pii.email", "user", 1)),
        (),
        NOW,
    )
    assert rule(result, "secrets.block").matched
    assert rule(result, "pii.redact").reason == (
        "not tried: the call was refused in pass 1, so pass 2 (redaction) did not run"
    )


def test_an_unapproved_model_is_a_check_and_no_rule_runs(policy: Policy) -> None:
    email = ClassFact("pii.email", "user", 1.0, count=2)
    result = explain(policy, facts(email, model="gpt-4.1"), (), NOW)
    assert [(s.rule, s.outcome) for s in result.checks] == [("model.unapproved", "block")]
    assert rule(result, "pii.redact").reason.startswith("no match: model: 'gpt-4.1'")
    assert "the model is not approved" in rule(result, "mail.confident").reason


def test_exceptions_considered(policy: Policy) -> None:
    billing = Principal(
        key_id="k", name="n", app="billing", environment="prod", roles=("payments",)
    )
    card = ClassFact("pii.credit_card", "user", 1.0)
    result = explain(policy, facts(card, principal=billing), (), NOW)
    verdicts = {e["id"]: e["verdict"] for e in result.exceptions}
    assert verdicts == {
        "exc-billing": "applied: waived cards.prod",
        "exc-other": "does not cover this caller",
    }
    assert rule(result, "cards.prod").reason == "pass 1: waived (exc-billing)"

    later = datetime(2027, 7, 1, tzinfo=UTC).timestamp()
    result = explain(policy, facts(card, principal=billing), (), later)
    assert result.exceptions[0]["verdict"] == "does not apply: expired"
    assert result.decision.action.value == "require_exception"


def test_json_has_no_finding_values_and_the_decision(policy: Policy) -> None:
    data = explain(policy, facts(ClassFact("pii.email", "user", 1.0)), (), NOW).to_json()
    assert data["findings"] == [
        {
            "class": "pii.email",
            "where": "user",
            "score": 1.0,
            "count": 1,
            "sensitivity": "confidential",
            "monitored": False,
            "dummy": False,
        }
    ]
    assert data["decision"]["action"] == "redact"
    assert data["decision"]["redactions"] == {"pii.email": "pseudonymise"}
    assert data["call"]["principal"]["roles"] == []
