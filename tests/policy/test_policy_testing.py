"""Running a policy's test cases: expectations, failures with diffs, coverage, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

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

from bastion.errors import ConfigError
from bastion.model.facts import CallFacts
from bastion.policy.document import PolicyTest
from bastion.policy.loader import Policy, parse_policy
from bastion.policy.testing import (
    Case,
    CaseError,
    RunReport,
    facts_from_findings,
    junit_xml,
    load_cases,
    moment,
    principal_of,
    run_cases,
)

CARDS_PROD = """\
  - id: cards.prod
    match: {classes: [pii.credit_card], environment: prod}
    action: require_exception
"""
POLICY = shop_policy(
    rules=[SECRETS_BLOCK, INJECTION_SHADOW, CONTRACTS_INTERNAL, CARDS_PROD, PII_REDACT],
    exceptions=[EXC_BILLING],
    version="v1",
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(POLICY, "shop.yaml", CLASSES)


def case(**fields: object) -> Case:
    fields.setdefault("name", "case")
    fields.setdefault("model", "gpt-4o")
    fields.setdefault("findings", [])
    return Case(PolicyTest.model_validate(fields), "shop.yaml:1")


def run(policy: Policy, *cases: Case) -> RunReport:
    return run_cases(policy, cases, facts_from_findings, NOW)


def test_passing_cases_compare_rules_and_classes_in_any_order(policy: Policy) -> None:
    report = run(
        policy,
        case(
            findings=[{"class": "pii.email"}, {"class": "pii.credit_card"}],
            expect={
                "decision": "redact",
                "rules": ["pii.redact"],
                "redacted": ["pii.email", "pii.credit_card"],
                "model": "gpt-4o",
                "code": "none",
                "exception": "none",
            },
        ),
        case(
            findings=[{"class": "secret.aws_access_key"}],
            model="internal",
            expect={"decision": "block", "rules": ["secrets.block"], "code": "policy_violation"},
        ),
    )
    assert report.ok and not report.failed
    assert [r.passed for r in report.results] == [True, True]


def test_a_failing_case_lists_each_difference(policy: Policy) -> None:
    report = run(
        policy,
        case(
            name="card in prod",
            principal={"environment": "prod", "app": "checkout"},
            findings=[{"class": "pii.credit_card"}],
            expect={"decision": "redact", "rules": ["pii.redact", "cards.mask"]},
        ),
    )
    assert not report.ok
    (result,) = report.failed
    assert {m.field for m in result.mismatches} == {"decision", "rules"}
    text = result.failure_text()
    assert "decision: expected redact, got require_exception" in text
    assert "missing cards.mask, pii.redact; unexpected cards.prod" in text
    assert result.actual["code"] == "exception_required"
    assert [s.rule for s in result.steps] == ["cards.prod"]


def test_none_means_expected_absent(policy: Policy) -> None:
    report = run(
        policy,
        case(
            principal={"app": "billing", "environment": "prod"},
            findings=[{"class": "pii.credit_card"}],
            expect={"decision": "redact", "exception": "none"},
        ),
    )
    (result,) = report.failed
    assert result.mismatches[0].describe() == "exception: expected none, got exc-billing"


def test_case_time_decides_whether_an_exception_applies(policy: Policy) -> None:
    prod_billing = {"app": "billing", "environment": "prod"}
    valid = case(
        principal=prod_billing,
        findings=[{"class": "pii.credit_card"}],
        at="2027-01-15",
        expect={"decision": "redact", "exception": "exc-billing"},
    )
    expired = case(
        principal=prod_billing,
        findings=[{"class": "pii.credit_card"}],
        exception="exc-billing",
        at="2027-07-01T00:00:00Z",
        expect={"decision": "require_exception", "code": "exception_required"},
    )
    assert run(policy, valid, expired).ok


def test_a_case_that_cannot_be_built_is_an_error_not_a_pass(policy: Policy) -> None:
    def broken(test: PolicyTest) -> CallFacts:
        raise CaseError("request: model must be a non-empty string.")

    report = run_cases(policy, [case(expect={"decision": "allow"})], broken, NOW)
    assert not report.ok
    assert report.results[0].error == "request: model must be a non-empty string."


def test_no_case_is_not_ok(policy: Policy) -> None:
    report = run(policy)
    assert not report.ok and report.results == ()


def test_coverage_counts_matches_waivers_and_shadow_rules(policy: Policy) -> None:
    report = run(
        policy,
        case(findings=[{"class": "pii.email"}], expect={"decision": "redact"}),
        case(
            principal={"app": "billing", "environment": "prod"},
            findings=[{"class": "pii.credit_card"}],
            expect={"decision": "redact"},
        ),
        case(
            findings=[{"class": "injection.indirect", "where": "retrieved"}],
            expect={"decision": "allow", "shadow_decision": "block"},
        ),
    )
    assert report.ok
    # cards.prod was only waived, injection.shadow only matched in the shadow run:
    # both count; a rule that only saw "no match" does not.
    assert report.unreached == ("secrets.block", "contracts.internal", "model.unapproved")
    assert report.unreached_checks == ("model.max_sensitivity",)


def test_model_unapproved_is_reached_by_an_unapproved_model(policy: Policy) -> None:
    report = run(
        policy,
        case(model="gpt-4.1", expect={"decision": "block", "rules": ["model.unapproved"]}),
    )
    assert report.ok and "model.unapproved" in report.reached


def test_junit_xml_has_one_testcase_per_case_and_the_failures(policy: Policy) -> None:
    report = run(
        policy,
        case(name="ok", findings=[{"class": "pii.email"}], expect={"decision": "redact"}),
        case(name="wrong", findings=[{"class": "pii.email"}], expect={"decision": "block"}),
    )
    root = ET.fromstring(junit_xml(report, "shop.yaml"))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["ok"].find("failure") is None
    failure = cases["wrong"].find("failure")
    assert failure is not None
    assert failure.get("message") == "decision: expected block, got redact"
    assert cases["wrong"].get("file") == "shop.yaml" and cases["wrong"].get("line") == "1"


def test_principal_defaults_and_roles() -> None:
    principal = principal_of({"app": "x", "roles": "admin"})
    assert (principal.key_id, principal.name, principal.environment) == (
        "test",
        "policy-test",
        "dev",
    )
    assert principal.roles == ("admin",)
    with pytest.raises(CaseError, match="unknown field 'tem'"):
        principal_of({"tem": "x"})


def test_a_time_without_zone_is_utc() -> None:
    assert moment(datetime(2027, 1, 1), 0.0) == NOW
    assert moment(None, 42.0) == 42.0


# -- reading cases -------------------------------------------------------------------

INLINE = """\
name: p
rules:
  - id: mail
    match: {classes: [pii.email]}
    action: redact
tests:
  - name: inline
    findings: [{class: pii.email}]
    model: gpt-4o
    expect: {decision: redact}
"""


def _write(tmp_path: Path, policy: str, tests: str | None) -> tuple[Path, Policy]:
    path = tmp_path / "p.yaml"
    path.write_text(policy, encoding="utf-8")
    if tests is not None:
        (tmp_path / "p.tests.yaml").write_text(tests, encoding="utf-8")
    return path, parse_policy(policy, str(path), CLASSES)


def test_inline_and_sidecar_cases_are_read_with_their_lines(tmp_path: Path) -> None:
    sidecar = (
        "tests:\n  - name: beside\n    findings: []\n    model: gpt-4o\n"
        "    expect: {decision: allow}\n"
    )
    path, loaded = _write(tmp_path, INLINE, sidecar)
    cases = load_cases(path, loaded.document, CLASSES)
    assert [(c.test.name, c.source) for c in cases] == [
        ("inline", f"{path}:7"),
        ("beside", f"{tmp_path / 'p.tests.yaml'}:2"),
    ]


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        pytest.param(
            "tests:\n  - name: a\n    principal: {app: x, tem: y}\n    findings: []\n"
            "    model: m\n    expect: {decision: allow}\n",
            "p.tests.yaml:3: tests[0].principal.tem: unknown principal field",
            id="principal field",
        ),
        pytest.param(
            "tests:\n  - name: a\n    findings:\n      - {class: pii.emial}\n"
            "    model: m\n    expect: {decision: allow}\n",
            "p.tests.yaml:4: tests[0].findings[0].class: no data class 'pii.emial'",
            id="unknown class",
        ),
        pytest.param(
            "tests:\n  - name: a\n    findings: []\n    model: m\n"
            "    expect: {decision: allow, rulez: [x]}\n",
            "p.tests.yaml:5: tests[0].expect.rulez: unknown key (did you mean 'rules'?)",
            id="expect key",
        ),
        pytest.param(
            "tests:\n  - name: a\n    model: m\n    expect: {decision: allow}\n",
            "p.tests.yaml:2: tests[0]: give either request or findings",
            id="no input",
        ),
        pytest.param("cases: []\n", "p.tests.yaml:1: cases: unknown key", id="top level"),
        pytest.param("", "p.tests.yaml:1: tests: missing required key", id="empty file"),
        pytest.param(
            "- name: a\n",
            "p.tests.yaml:1: the top level must be a mapping of sections (tests:), found a list",
            id="a list",
        ),
    ],
)
def test_sidecar_errors_name_file_line_and_key(tmp_path: Path, tests: str, message: str) -> None:
    path, loaded = _write(tmp_path, INLINE, tests)
    with pytest.raises(ConfigError) as caught:
        load_cases(path, loaded.document, CLASSES)
    assert message in str(caught.value)


def test_cases_pin_down_stripped_tools_and_what_answers_may_carry() -> None:
    policy = parse_policy(
        """\
name: agents
rules:
  - id: answers.secrets
    match: {classes: ["secret.*"], where: [output], environment: prod}
    action: block
tools:
  offer:
    - id: tools.prod
      match: {environment: prod}
      allow: [search_docs]
    - id: tools.default
      allow: ["*"]
""",
        "agents.yaml",
        CLASSES,
    )
    prod = {"environment": "prod"}
    expect_prod = {
        "decision": "allow",
        "tools_stripped": ["run_shell"],
        "output": {"secret.aws_access_key": "block", "pii.email": "allow"},
    }
    report = run(
        policy,
        case(principal=prod, tools=["search_docs", "run_shell"], expect=expect_prod),
        case(tools=["search_docs", "run_shell"], expect=expect_prod),
    )
    passed, failed = report.results
    assert passed.passed
    assert {m.field for m in failed.mismatches} == {"tools_stripped", "output"}
    assert "answers.secrets" in report.reached
