"""Output rules: validation, the output plan a decision carries, and that they never act
on the request."""

from __future__ import annotations

import pytest

from bastion.errors import ConfigError
from bastion.model import Action, Principal
from bastion.model.controls import OutputAction
from bastion.model.exceptions import ExceptionState, PolicyException
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.document import PolicyTest, Sensitivity
from bastion.policy.evaluate import Step
from bastion.policy.explain import explain
from bastion.policy.loader import Policy, parse_policy
from bastion.policy.testing import Case, facts_from_findings, run_cases

CLASSES: dict[str, Sensitivity] = {
    "pii.email": "confidential",
    "pii.phone": "confidential",
    "secret.aws_access_key": "restricted",
    "secret.github_token": "restricted",
    "output.exfil_link": "confidential",
    "output.system_prompt_leak": "confidential",
}

REQUEST_RULES = """\
rules:
  - id: secrets.block
    match: {classes: ["secret.*"]}
    action: block
  - id: pii.external
    match: {classes: ["pii.*"], models: ["gpt-*"]}
    action: redact
"""

OUTPUT_RULES = """\
  - id: out.secrets
    match: {classes: ["secret.*"], where: [output]}
    action: block
  - id: out.pii.prod
    match: {classes: ["pii.*"], where: [output], environment: prod}
    action: redact
  - id: out.email.external
    match: {classes: [pii.email], where: [output], models: ["gpt-*"]}
    action: redact
    transform: drop
  - id: out.links
    match: {classes: [output.exfil_link], where: [output], endpoints: [responses]}
    action: redact
    transform: hash
  - id: out.trial
    match: {classes: [output.system_prompt_leak], where: [output]}
    action: block
    shadow: true
output: {mode: buffer, window_chars: 512}
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy("name: out\n" + REQUEST_RULES + OUTPUT_RULES, "out.yaml", CLASSES)


@pytest.fixture(scope="module")
def request_only() -> Policy:
    return parse_policy("name: out\n" + REQUEST_RULES, "out.yaml", CLASSES)


def _facts(
    *classes: tuple[str, str],
    model: str = "gpt-4o",
    endpoint: str = "chat.completions",
    **principal: str,
) -> CallFacts:
    return CallFacts(
        Principal("k1", "key", **principal),  # type: ignore[arg-type]
        endpoint,
        model,
        tuple(ClassFact(name, where, 0.99) for name, where in classes),
    )


def _rules(policy: Policy, facts: CallFacts) -> dict[str, OutputAction | None]:
    plan = policy.decide(facts).output
    assert plan is not None
    names = ("secret.aws_access_key", "pii.email", "pii.phone", "output.exfil_link")
    return {name: plan.action_for(name) for name in names}


# -- the plan --------------------------------------------------------------------------


def test_the_plan_holds_the_output_rules_that_apply_to_the_caller(policy: Policy) -> None:
    dev = _rules(policy, _facts(environment="dev", model="internal"))
    assert dev == {
        "secret.aws_access_key": OutputAction("block", "out.secrets", "mask"),
        "pii.email": None,
        "pii.phone": None,
        "output.exfil_link": None,
    }
    prod = _rules(policy, _facts(environment="prod", model="internal"))
    assert prod["pii.phone"] == OutputAction("redact", "out.pii.prod", "mask")


def test_the_plan_follows_model_and_endpoint(policy: Policy) -> None:
    chat = _rules(policy, _facts(model="gpt-4o"))
    assert chat["pii.email"] == OutputAction("redact", "out.email.external", "drop")
    assert chat["output.exfil_link"] is None
    responses = _rules(policy, _facts(model="gpt-4o", endpoint="responses"))
    assert responses["output.exfil_link"] == OutputAction("redact", "out.links", "hash")


def test_the_strongest_action_wins_for_a_class(policy: Policy) -> None:
    prod = _rules(policy, _facts(environment="prod", model="gpt-4o"))
    # out.pii.prod masks, out.email.external drops: both redact, the first rule is kept
    assert prod["pii.email"] == OutputAction("redact", "out.pii.prod", "mask")


def test_the_plan_carries_the_output_section(policy: Policy) -> None:
    plan = policy.decide(_facts()).output
    assert plan is not None
    assert (plan.mode, plan.window_chars) == ("buffer", 512)


def test_window_is_the_default_mode() -> None:
    text = "name: t\nrules:\n" + OUTPUT_RULES.split("output:")[0]
    plan = parse_policy(text, "p.yaml", CLASSES).decide(_facts()).output
    assert plan is not None
    assert (plan.mode, plan.window_chars) == ("window", 256)


def test_shadow_output_rules_are_not_in_the_plan(policy: Policy) -> None:
    plan = policy.decide(_facts()).output
    assert plan is not None
    assert plan.action_for("output.system_prompt_leak") is None


def test_no_output_rule_for_the_call_means_no_plan() -> None:
    text = (
        "name: t\nrules:\n  - id: o\n    match: {classes: [pii.email], where: [output], "
        "app: billing}\n    action: redact\n"
    )
    policy = parse_policy(text, "p.yaml", CLASSES)
    assert policy.decide(_facts(app="support")).output is None
    assert policy.decide(_facts(app="billing")).output is not None


def test_a_policy_without_output_rules_gives_no_plan(request_only: Policy) -> None:
    assert request_only.decide(_facts()).output is None


def test_a_refused_call_has_no_output_plan(policy: Policy) -> None:
    decision = policy.decide(_facts(("secret.aws_access_key", "user")))
    assert decision.action is Action.BLOCK
    assert decision.output is None


def test_a_shadow_policy_enforces_no_output_rules() -> None:
    text = "name: t\nshadow: true\nrules:\n" + OUTPUT_RULES.split("output:")[0]
    assert parse_policy(text, "p.yaml", CLASSES).decide(_facts()).output is None


def test_calls_with_the_same_rules_share_one_plan(policy: Policy) -> None:
    one = policy.decide(_facts(app="a")).output
    two = policy.decide(_facts(("pii.email", "user"), app="b")).output
    assert one is not None and one is two


def test_an_exception_waives_an_output_rule(policy: Policy) -> None:
    exception = PolicyException(
        id="exc-1",
        rule="out.secrets",
        scope=(("app", "vault"),),
        state=ExceptionState.APPROVED,
        expires_at=2_000_000_000.0,
        justification="The vault app shows keys to their owners.",
    )
    decision = policy.decide(_facts(app="vault"), [exception], now=1_800_000_000.0)
    assert decision.exception_id == "exc-1"
    assert decision.output is not None
    assert decision.output.action_for("secret.aws_access_key") is None
    other = policy.decide(_facts(app="shop"), [exception], now=1_800_000_000.0)
    assert other.output is not None
    assert other.output.action_for("secret.aws_access_key") is not None


# -- never on the request --------------------------------------------------------------

REQUEST_CASES = [
    pytest.param((), {}, id="nothing"),
    pytest.param((("pii.email", "user"),), {}, id="email"),
    pytest.param((("pii.phone", "user"),), {"environment": "prod"}, id="prod-phone"),
    pytest.param((("secret.github_token", "user"),), {}, id="secret"),
    pytest.param((("output.exfil_link", "retrieved"),), {}, id="link-in-request"),
    pytest.param((("secret.aws_access_key", "output"),), {}, id="answer-fact"),
    pytest.param((("pii.email", "output"),), {"environment": "prod"}, id="answer-email"),
]


@pytest.mark.parametrize(("classes", "principal"), REQUEST_CASES)
def test_output_rules_leave_the_request_decision_as_it_was(
    policy: Policy,
    request_only: Policy,
    classes: tuple[tuple[str, str], ...],
    principal: dict[str, str],
) -> None:
    facts = _facts(*classes, **principal)
    with_output, without = policy.decide(facts), request_only.decide(facts)
    for name in ("action", "rules", "route", "redactions", "shadow_action", "shadow_rules"):
        assert getattr(with_output, name) == getattr(without, name), name


def test_an_answer_fact_never_triggers_an_output_rule_on_the_request() -> None:
    policy = parse_policy("name: t\nrules:\n" + OUTPUT_RULES, "p.yaml", CLASSES)
    decision = policy.decide(_facts(("secret.aws_access_key", "output")))
    assert decision.action is Action.ALLOW
    assert decision.rules == ()
    assert decision.shadow_action is None


# -- loading ---------------------------------------------------------------------------


def _rule(body: str) -> str:
    return f"name: t\nrules:\n  - id: o\n{body}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _rule("    match: {classes: [pii.email], where: [output, user]}\n    action: block\n"),
            "give where: [output] alone",
            id="mixed-where",
        ),
        pytest.param(
            _rule("    match: {classes: [pii.email], where: [output]}\n    action: allow\n"),
            "can only redact or block",
            id="allow",
        ),
        pytest.param(
            _rule(
                "    match: {classes: [pii.email], where: [output]}\n"
                "    action: require_exception\n"
            ),
            "can only redact or block",
            id="require-exception",
        ),
        pytest.param(
            _rule(
                "    match: {classes: [pii.email], where: [output]}\n    action: redact\n"
                "    transform: pseudonymise\n"
            ),
            "masks, drops or hashes",
            id="pseudonymise",
        ),
        pytest.param(
            _rule("    match: {where: [output]}\n    action: block\n"),
            "add classes",
            id="no-classes",
        ),
        pytest.param(
            _rule(
                "    match: {classes: [pii.email], where: [output], min_score: 0.9}\n"
                "    action: block\n"
            ),
            "min_score and min_count do not apply",
            id="min-score",
        ),
        pytest.param(
            _rule(
                "    match: {classes: [pii.email], where: [output]}\n    action: block\n"
                "    message: Refused.\n"
            ),
            "message does not apply",
            id="message",
        ),
        pytest.param(
            _rule("    match: {classes: [output.nope], where: [output]}\n    action: block\n"),
            "matches no data class",
            id="unknown-class",
        ),
        pytest.param("name: t\noutput: {mode: stream}\n", "output.mode", id="unknown-mode"),
        pytest.param("name: t\noutput: {window_chars: 4}\n", "window_chars", id="tiny-window"),
    ],
)
def test_an_inconsistent_output_rule_is_refused_at_load(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "p.yaml", CLASSES)
    assert expected in str(caught.value)


# -- explain and policy test -----------------------------------------------------------


def test_explain_says_why_an_output_rule_is_or_is_not_in_the_plan(policy: Policy) -> None:
    found = explain(policy, _facts(environment="dev", model="internal"), [], 0.0)
    reasons = {rule.id: rule for rule in found.rules}
    assert reasons["out.secrets"].matched
    assert "output: answer: block" in reasons["out.secrets"].reason
    assert not reasons["out.pii.prod"].matched
    assert "not for this call" in reasons["out.pii.prod"].reason
    assert "environment" in reasons["out.pii.prod"].reason
    assert "shadow" in reasons["out.trial"].reason


def test_a_policy_test_case_reaches_the_output_rules_its_call_gets(policy: Policy) -> None:
    test = PolicyTest.model_validate(
        {
            "name": "prod chat on gpt-4o",
            "principal": {"environment": "prod"},
            "findings": [],
            "model": "gpt-4o",
            "expect": {"decision": "allow"},
        }
    )
    report = run_cases(policy, [Case(test, "t.yaml:1")], facts_from_findings, now=0.0)
    assert {"out.secrets", "out.pii.prod", "out.email.external"} <= report.reached
    assert "out.links" not in report.reached


def test_trace_names_output_rules_only_when_the_call_goes_ahead(policy: Policy) -> None:
    trace: list[Step] = []
    policy.decide(_facts(("secret.aws_access_key", "user")), trace=trace)
    assert not [step for step in trace if step.stage == "output"]
