"""Evaluating a policy: the two passes, exceptions, shadow mode and the model guard."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bastion.errors import ConfigError
from bastion.model import Action, Principal
from bastion.model.exceptions import ExceptionState, PolicyException
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.compiler import unwaivable
from bastion.policy.document import Sensitivity
from bastion.policy.evaluate import Step
from bastion.policy.loader import Policy, parse_policy

CLASSES: dict[str, Sensitivity] = {
    "pii.email": "confidential",
    "pii.credit_card": "restricted",
    "pii.ip_address": "internal",
    "secret.aws_access_key": "restricted",
    "secret.jwt": "restricted",
    "legal.contract": "confidential",
    "code.python": "confidential",
    "injection.indirect": "internal",
    "content.unscanned": "confidential",
}

POLICY = """\
name: test
version: v2
classes:
  pii.ip_address: {sensitivity: public}
  "code.*": {mode: monitor}
models:
  gpt-4o-mini: {max_sensitivity: confidential}
  gpt-4o: {max_sensitivity: confidential, deny_classes: [legal.contract]}
  internal: {max_sensitivity: restricted}
  m: {max_sensitivity: internal}
rules:
  - id: mail.allow
    match: {classes: [pii.email], min_score: 0.95}
    action: allow
  - id: secrets
    match: {classes: ["secret.*"]}
    action: block
    message: "No credentials ({classes}) under {rule}."
  - id: contracts.internal
    match: {classes: [legal.contract], team: [legal], models: "gpt-4o-mini"}
    action: reroute
    reroute: {to: internal}
  - id: cards.prod
    match: {classes: [pii.credit_card], environment: prod}
    action: require_exception
  - id: security.team
    match: {team: security, roles: [reviewer]}
    action: allow
  - id: pii.external
    match: {classes: ["pii.*"], models: ["gpt-*"]}
    action: redact
  - id: card.mask
    match: {classes: [pii.credit_card], models: ["gpt-*"], min_count: 2}
    action: redact
    transform: mask
  - id: injected.retrieved
    match: {classes: [injection.indirect], where: [retrieved, tool_result]}
    action: block
    shadow: true
    log: true
exceptions:
  - id: exc-billing
    rule: cards.prod
    scope: {app: billing}
    justification: Disputes.
    expires: "2027-01-01T00:00:00Z"
"""
BEFORE_EXPIRY = 1_790_000_000.0  # 2026-09
AFTER_EXPIRY = 1_800_000_000.0  # 2027-01-15


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(POLICY, "policy.yaml", CLASSES)


def facts(
    model: str = "gpt-4o-mini",
    *classes: tuple[str, str, float] | tuple[str, str, float, int],
    exception_id: str | None = None,
    **principal: object,
) -> CallFacts:
    fields: dict[str, object] = {"key_id": "k1", "name": "app", **principal}
    return CallFacts(
        Principal(**fields),  # type: ignore[arg-type]
        "chat.completions",
        model,
        tuple(ClassFact(*c) for c in classes),
        exception_id=exception_id,
    )


def test_version_names_policy_label_and_content(policy: Policy) -> None:
    assert policy.version.startswith("test@v2+") and len(policy.version) == len("test@v2+") + 12


def test_nothing_found_is_allowed(policy: Policy) -> None:
    decision = policy.decide(facts())
    assert decision.action is Action.ALLOW and decision.policy_version == policy.version


def test_redaction_combines_per_class_strongest_wins(policy: Policy) -> None:
    one_card = policy.decide(facts("gpt-4o", ("pii.credit_card", "user", 1.0)))
    assert dict(one_card.redactions) == {"pii.credit_card": "pseudonymise"}
    two_cards = policy.decide(
        facts("gpt-4o", ("pii.credit_card", "user", 1.0), ("pii.credit_card", "system", 1.0))
    )
    assert dict(two_cards.redactions) == {"pii.credit_card": "mask"}
    assert two_cards.rules == ("pii.external", "card.mask")
    assert two_cards.action is Action.REDACT and two_cards.redacted_classes == ("pii.credit_card",)


def test_allow_takes_confident_findings_from_later_rules(policy: Policy) -> None:
    exempt = policy.decide(facts("gpt-4o", ("pii.email", "user", 0.99)))
    assert exempt.action is Action.ALLOW and exempt.rules == ("mail.allow",)
    unsure = policy.decide(facts("gpt-4o", ("pii.email", "user", 0.9)))
    assert unsure.action is Action.REDACT


def test_block_beats_everything_and_fills_its_message(policy: Policy) -> None:
    decision = policy.decide(facts("gpt-4o", ("pii.email", "user", 0.9), ("secret.jwt", "user", 1)))
    assert decision.action is Action.BLOCK and decision.rules == ("secrets",)
    assert decision.message == "No credentials (secret.jwt) under secrets."
    assert decision.exception_hint and "--rule secrets" in decision.exception_hint
    assert not decision.forwards


def test_reroute_then_redact_against_the_routed_model(policy: Policy) -> None:
    contract = ("legal.contract", "user", 1.0)
    email = ("pii.email", "user", 0.9)
    legal = policy.decide(facts("gpt-4o-mini", contract, email, team="legal"))
    assert legal.action is Action.REROUTE and legal.route == "internal"
    assert legal.redactions == ()  # pass two ran on `internal`: no pii.external there
    other_team = policy.decide(facts("gpt-4o-mini", contract, email, team="sales"))
    assert other_team.action is Action.REDACT and other_team.route is None


def test_model_guard_refuses_what_would_leave_unredacted(policy: Policy) -> None:
    denied = policy.decide(facts("gpt-4o", ("legal.contract", "user", 1.0), team="legal"))
    assert denied.action is Action.BLOCK and denied.rules == ("model.deny_classes",)
    assert "gpt-4o" in (denied.message or "") and "legal.contract" in (denied.message or "")
    # On gpt-4o-mini a contract (confidential) is within the model's limit.
    assert policy.decide(facts("gpt-4o-mini", ("legal.contract", "user", 1))).forwards
    # On m (internal at most) an e-mail address may not leave unredacted.
    too_sensitive = policy.decide(facts("m", ("pii.email", "user", 0.9)))
    assert too_sensitive.rules == ("model.max_sensitivity",)
    # The policy lowered pii.ip_address to public: fine for m.
    assert policy.decide(facts("m", ("pii.ip_address", "user", 1.0))).forwards


def test_unapproved_model_is_refused(policy: Policy) -> None:
    decision = policy.decide(facts("gpt-4.1"))
    assert decision.action is Action.BLOCK and decision.rules == ("model.unapproved",)
    assert not policy.approves("gpt-4.1") and policy.approves("internal")


def test_monitored_classes_are_invisible_to_rules_and_guard(policy: Policy) -> None:
    assert policy.decide(facts("m", ("code.python", "user", 1.0))).action is Action.ALLOW


def test_require_exception_and_a_static_exception(policy: Policy) -> None:
    card = ("pii.credit_card", "user", 1.0)
    needs = policy.decide(facts("gpt-4o", card, environment="prod"), now=BEFORE_EXPIRY)
    assert needs.action is Action.REQUIRE_EXCEPTION and needs.code == "exception_required"
    assert needs.rules == ("cards.prod",)

    billing = facts("gpt-4o", card, environment="prod", app="billing")
    waived = policy.decide(billing, now=BEFORE_EXPIRY)
    assert waived.action is Action.REDACT and waived.exception_id == "exc-billing"
    expired = policy.decide(billing, now=AFTER_EXPIRY)
    assert expired.action is Action.REQUIRE_EXCEPTION and expired.exception_id is None


def test_named_exceptions(policy: Policy) -> None:
    card = ("pii.credit_card", "user", 1.0)
    dynamic = PolicyException("exc_abc", "cards.prod", (("team", "risk"),), expires_at=AFTER_EXPIRY)
    risk = facts("gpt-4o", card, environment="prod", team="risk")
    applied = policy.decide(replace(risk, exception_id="exc_abc"), (dynamic,), BEFORE_EXPIRY)
    assert applied.action is Action.REDACT and applied.exception_id == "exc_abc"
    # It applies to its scope without being named, too.
    assert policy.decide(risk, (dynamic,), BEFORE_EXPIRY).exception_id == "exc_abc"

    revoked = replace(dynamic, state=ExceptionState.REVOKED)
    refused = policy.decide(replace(risk, exception_id="exc_abc"), (revoked,), BEFORE_EXPIRY)
    assert refused.action is Action.REQUIRE_EXCEPTION and refused.exception_state == "revoked"
    assert "revoked" in (refused.message or "")
    late = policy.decide(replace(risk, exception_id="exc_abc"), (dynamic,), AFTER_EXPIRY)
    assert late.exception_state == "expired"

    other_team = facts("gpt-4o", card, environment="prod", team="sales", exception_id="exc_abc")
    invalid = policy.decide(other_team, (dynamic,), BEFORE_EXPIRY)
    assert invalid.action is Action.BLOCK and invalid.code == "exception_invalid"
    unknown = policy.decide(replace(risk, exception_id="exc_nope"), (), BEFORE_EXPIRY)
    assert unknown.code == "exception_invalid"


def test_an_exception_to_a_rule_that_refuses_nothing_is_harmless(policy: Policy) -> None:
    """Approved before its rule became an allow rule (or for model.unapproved): a call
    naming it is not refused as invalid, and it waives nothing."""
    to_allow = PolicyException("exc_al", "mail.allow", (("app", "crm"),), expires_at=AFTER_EXPIRY)
    mail = facts("gpt-4o", ("pii.email", "user", 0.99), app="crm", exception_id="exc_al")
    decided = policy.decide(mail, (to_allow,), BEFORE_EXPIRY)
    assert decided.action is Action.ALLOW and decided.rules == ("mail.allow",)
    assert decided.exception_id is None and decided.code is None
    to_approval = replace(to_allow, id="exc_ap", rule="model.unapproved")
    other = facts("gpt-5", app="crm", exception_id="exc_ap")
    refused = policy.decide(other, (to_approval,), BEFORE_EXPIRY)
    assert refused.action is Action.BLOCK and refused.rules == ("model.unapproved",)


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        pytest.param("mail.allow", "is an allow rule", id="allow-rule"),
        pytest.param("security.team", "is an allow rule", id="allow-whole-call"),
        pytest.param("model.unapproved", "only the policy approves models", id="approval"),
        pytest.param("tools.offer", "exceptions do not waive tool rules", id="tool-built-in"),
        pytest.param("secrets", None, id="block"),
        pytest.param("cards.prod", None, id="require-exception"),
        pytest.param("contracts.internal", None, id="reroute"),
        pytest.param("pii.external", None, id="redact"),
        pytest.param("injected.retrieved", None, id="shadow-block"),
        pytest.param("model.max_sensitivity", None, id="model-limit"),
        pytest.param("no.such.rule", None, id="unknown: a rule still to come"),
    ],
)
def test_which_rules_an_exception_can_waive(policy: Policy, rule: str, why: str | None) -> None:
    problem = unwaivable(policy.compiled, rule)
    if why is None:
        assert problem is None
    else:
        assert problem is not None and f"rule {rule!r}" in problem and why in problem


def test_allow_rule_without_classes_takes_the_whole_call(policy: Policy) -> None:
    security = facts("gpt-4o", ("pii.email", "user", 0.9), team="security", roles=("reviewer",))
    decision = policy.decide(security)
    assert decision.action is Action.ALLOW and decision.rules == ("security.team",)
    not_reviewer = policy.decide(replace(security, principal=Principal("k", "n", team="security")))
    assert not_reviewer.action is Action.REDACT


def test_shadow_rules_decide_and_record_without_enforcing(policy: Policy) -> None:
    in_retrieved = policy.decide(facts("gpt-4o", ("injection.indirect", "retrieved", 0.9)))
    assert in_retrieved.action is Action.ALLOW
    assert in_retrieved.shadow_action is Action.BLOCK
    assert in_retrieved.shadow_rules == ("injected.retrieved",)
    in_user_text = policy.decide(facts("gpt-4o", ("injection.indirect", "user", 0.9)))
    assert in_user_text.shadow_action is None and in_user_text.shadow_rules == ()


def test_a_shadow_rule_marked_log_is_logged_when_it_would_act(policy: Policy) -> None:
    in_retrieved = policy.decide(facts("gpt-4o", ("injection.indirect", "retrieved", 0.9)))
    assert in_retrieved.action is Action.ALLOW and in_retrieved.shadow_action is Action.BLOCK
    assert in_retrieved.logged_rules == ("injected.retrieved",)
    in_user_text = policy.decide(facts("gpt-4o", ("injection.indirect", "user", 0.9)))
    assert in_user_text.logged_rules == ()


def test_a_shadow_policy_logs_its_rules_marked_log() -> None:
    shadow = parse_policy(
        "name: s\nshadow: true\nrules:\n"
        "  - {id: b, match: {classes: ['secret.*']}, action: block, log: true}\n"
        "  - {id: r, match: {classes: ['pii.*']}, action: redact, log: true}\n"
        "  - {id: quiet, match: {classes: ['pii.*']}, action: redact}\n",
        "s.yaml",
        CLASSES,
    )
    mail = shadow.decide(facts("m", ("pii.email", "user", 1.0)))
    assert mail.action is Action.ALLOW and mail.shadow_action is Action.REDACT
    assert mail.logged_rules == ("r",) and mail.shadow_rules == ("r", "quiet")
    secret = shadow.decide(facts("m", ("secret.jwt", "user", 1.0)))
    assert secret.logged_rules == ("b",) and secret.shadow_action is Action.BLOCK


def test_a_shadow_policy_enforces_nothing() -> None:
    shadow = parse_policy(
        "name: s\nshadow: true\nmodels: {m: {}}\n"
        "rules: [{id: b, match: {classes: ['secret.*']}, action: block}]\n",
        "s.yaml",
        CLASSES,
    )
    found = shadow.decide(facts("m", ("secret.jwt", "user", 1.0)))
    assert found.action is Action.ALLOW and found.shadow_action is Action.BLOCK
    assert found.shadow_rules == ("b",)
    unapproved = shadow.decide(facts("other"))
    assert unapproved.action is Action.ALLOW and unapproved.shadow_action is Action.BLOCK
    unknown_exception = shadow.decide(facts("m", exception_id="exc_nope"))
    assert unknown_exception.action is Action.ALLOW
    assert unknown_exception.shadow_action is Action.BLOCK


def test_where_and_logged_rules() -> None:
    logged = parse_policy(
        "name: l\nrules: [{id: r, match: {classes: ['pii.*'], where: [system]}, "
        "action: redact, log: true}]\n",
        "l.yaml",
        CLASSES,
    )
    in_user = logged.decide(facts("m", ("pii.email", "user", 1.0)))
    assert in_user.action is Action.ALLOW and in_user.logged_rules == ()
    in_system = logged.decide(facts("m", ("pii.email", "system", 1.0)))
    assert in_system.action is Action.REDACT and in_system.logged_rules == ("r",)


def test_an_allow_rule_takes_only_the_findings_it_matched() -> None:
    """An allow rule for e-mails in tool results leaves a user's e-mail to the block rule:
    a caller cannot get it past the block by adding any e-mail in a tool message."""
    scoped = parse_policy(
        "name: s\nrules:\n"
        "  - {id: tool.mail, match: {classes: [pii.email], where: [tool_result]}, action: allow}\n"
        "  - {id: mail.block, match: {classes: [pii.email]}, action: block}\n",
        "s.yaml",
        CLASSES,
    )
    in_tool = scoped.decide(facts("m", ("pii.email", "tool_result", 1.0)))
    assert in_tool.action is Action.ALLOW and in_tool.rules == ("tool.mail",)
    both = scoped.decide(facts("m", ("pii.email", "tool_result", 1.0), ("pii.email", "user", 1.0)))
    assert both.action is Action.BLOCK and both.rules == ("mail.block",)


def test_an_allow_rule_with_min_score_leaves_unsure_findings_elsewhere(policy: Policy) -> None:
    decision = policy.decide(
        facts("gpt-4o", ("pii.email", "system", 0.99), ("pii.email", "user", 0.9))
    )
    assert decision.action is Action.REDACT and decision.redacted_classes == ("pii.email",)


def test_trace_explains_each_candidate(policy: Policy) -> None:
    trace: list[Step] = []
    policy.decide(
        facts("gpt-4o", ("pii.email", "user", 0.9), environment="prod", app="billing"),
        now=BEFORE_EXPIRY,
        trace=trace,
    )
    outcomes = {(step.rule, step.outcome) for step in trace}
    assert ("mail.allow", "no match") in outcomes and ("pii.external", "redact") in outcomes


def test_many_rules_match_only_their_own_conditions() -> None:
    """The bit-mask index must agree with a plain reading of each rule."""
    rules = "\n".join(
        f"  - {{id: r{i}, match: {{classes: ['pii.email'], app: app{i}}}, action: block}}"
        for i in range(150)
    )
    many = parse_policy(f"name: many\nrules:\n{rules}\n", "many.yaml", CLASSES)
    email = ("pii.email", "user", 1.0)
    assert many.decide(facts("m", email, app="app77")).rules == ("r77",)
    assert many.decide(facts("m", email, app="app149")).rules == ("r149",)
    assert many.decide(facts("m", email, app="other")).action is Action.ALLOW
    assert many.decide(facts("m", app="app77")).action is Action.ALLOW


DUMMY_POLICY = """\
name: dummies
version: v1
models:
  gpt-4o-mini: {max_sensitivity: confidential, deny_classes: ["secret.*"]}
rules:
  - id: dummies.logged
    match: {classes: ["secret.*"], dummies: true, where: [system]}
    action: block
  - id: secrets
    match: {classes: ["secret.*"]}
    action: block
"""


@pytest.mark.parametrize(
    ("found", "action", "rules"),
    [
        # a documented example or filler credential: no rule but one asking for dummies,
        # and the model limits (restricted, denied class) take it as no credential
        pytest.param([("user", True)], Action.ALLOW, (), id="dummy"),
        pytest.param([("system", True)], Action.BLOCK, ("dummies.logged",), id="asked-for"),
        pytest.param([("user", False)], Action.BLOCK, ("secrets",), id="real"),
        pytest.param([("user", True), ("user", False)], Action.BLOCK, ("secrets",),
                     id="a-dummy-beside-a-real-one-hides-nothing"),
    ],
)  # fmt: skip
def test_dummy_credentials_count_only_for_rules_that_ask(
    found: list[tuple[str, bool]], action: Action, rules: tuple[str, ...]
) -> None:
    policy = parse_policy(DUMMY_POLICY, "policy.yaml", CLASSES)
    classes = [
        ClassFact("secret.aws_access_key", where, 1.0, dummy=dummy) for where, dummy in found
    ]
    decision = policy.decide(replace(facts(), classes=tuple(classes)))
    assert decision.action is action and decision.rules == rules


def test_the_model_limits_still_see_a_real_credential_beside_a_dummy() -> None:
    without_rules = DUMMY_POLICY.split("rules:")[0] + "rules: []\n"
    policy = parse_policy(without_rules, "policy.yaml", CLASSES)
    dummy = ClassFact("secret.aws_access_key", "user", 1.0, dummy=True)
    real = ClassFact("secret.aws_access_key", "user", 1.0)
    assert policy.decide(replace(facts(), classes=(dummy,))).action is Action.ALLOW
    both = policy.decide(replace(facts(), classes=(real, dummy)))
    assert both.action is Action.BLOCK
    assert both.rules == ("model.deny_classes", "model.max_sensitivity")


def test_dummies_refine_classes() -> None:
    with pytest.raises(ConfigError, match="dummies"):
        parse_policy(
            "name: p\nversion: v1\nrules:\n  - {match: {dummies: true}, action: block}\n",
            "policy.yaml",
            CLASSES,
        )


PLAIN = """\
name: plain
rules:
  - id: prod.gpt4o
    match: {models: gpt-4o, environment: prod}
    action: block
  - id: legacy.review
    match: {app: legacy}
    action: require_exception
"""


def test_refusals_by_rules_without_classes_say_which_rule_not_classes_none() -> None:
    """A rule on the caller or model alone found no data: its default message must not
    claim data was found ("...: none")."""
    plain = parse_policy(PLAIN, "plain.yaml", CLASSES)
    blocked = plain.decide(facts("gpt-4o", environment="prod"))
    assert blocked.action is Action.BLOCK
    assert blocked.message == "This request is not allowed by policy rule prod.gpt4o."
    required = plain.decide(facts("gpt-4o-mini", app="legacy"))
    assert required.action is Action.REQUIRE_EXCEPTION
    assert required.message == "This request needs an approved exception for rule legacy.review."


def test_the_exception_hint_is_a_command_that_runs(policy: Policy) -> None:
    """`bastion exceptions request` requires --expires: a hint without it fails."""
    decision = policy.decide(facts("gpt-4o", ("secret.jwt", "user", 1)))
    assert decision.exception_hint is not None
    assert "--rule secrets --app <your app> --justification ... --expires " in (
        decision.exception_hint
    )
