"""``bastion policy validate | test | explain | diff`` (CONTRACT.md §10 exit codes)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from bastion.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICKSTART = str(EXAMPLES / "quickstart.yaml")
ENTERPRISE = str(EXAMPLES / "policies" / "enterprise.yaml")
ENTERPRISE_TESTS = str(EXAMPLES / "policies" / "enterprise.tests.yaml")

POLICY = """\
name: small
version: v1
models:
  gpt-4o: {max_sensitivity: confidential}
rules:
  - id: mail.redact
    match: {classes: [pii.email]}
    action: redact
  - id: secrets.prod
    match: {classes: ["secret.*"], environment: prod}
    action: block
"""
EMAIL_REQUEST = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Write to dana.whitfield@northwind-example.com"}],
}


@pytest.fixture(autouse=True)
def _no_upstream_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["policy", *args])


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- validate ------------------------------------------------------------------------


def test_validate_the_enterprise_policy() -> None:
    result = run("validate", ENTERPRISE, "--config", QUICKSTART)
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(Path(ENTERPRISE).read_text(encoding="utf-8"))
    cases = yaml.safe_load(Path(ENTERPRISE_TESTS).read_text(encoding="utf-8"))["tests"]
    rules, exceptions = len(document["rules"]), len(document["exceptions"])
    expected = (
        rf"ok: {re.escape(ENTERPRISE)}: enterprise@{document['version']}\+[0-9a-f]{{12}}, "
        rf"{rules} rules, {exceptions} exceptions?, {len(cases)} tests\n"
    )
    assert re.fullmatch(expected, result.stdout), result.stdout


def test_validate_json(tmp_path: Path) -> None:
    result = run("validate", "--json", write(tmp_path, "p.yaml", POLICY))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and (data["rules"], data["exceptions"], data["tests"]) == (2, 0, 0)
    assert data["version"].startswith("small@v1+")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            POLICY.replace("[pii.email]", "[pii.emial]"),
            ":7: rules[0].match.classes: 'pii.emial' matches no data class",
            id="unknown class",
        ),
        pytest.param(
            POLICY.replace("action: block", "action: blok"),
            ":11: rules[1].action: Input should be",
            id="bad action",
        ),
    ],
)
def test_validate_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "p.yaml", text)
    result = run("validate", path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"error: {path}{message}" in result.stderr


@pytest.mark.parametrize("command", ["validate", "test"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", ":1: name: missing required key", id="empty file"),
        pytest.param(
            "- name: x\n",
            ":1: the top level must be a mapping of sections (name:, version:, rules:, ...), "
            "found a list",
            id="a list",
        ),
        pytest.param("name: x\nrules:\n  - id: a\n", ":3: rules[0].action: missing", id="no match"),
        pytest.param(
            "name: x\nrules:\n  - {id: a, action: nuke}\n",
            ":3: rules[0].action: Input should be",
            id="unknown action",
        ),
        pytest.param(
            "name: x\ntools:\n  constraints:\n"
            "    - {id: t, tool: f, arguments: {u: {pattern: '(['}}}\n",
            ":4: tools.constraints[0].arguments.u.pattern: constraint 't': not an RE2 expression",
            id="bad regex",
        ),
    ],
)
def test_a_malformed_policy_is_a_clear_error_not_a_traceback(
    tmp_path: Path, command: str, text: str, message: str
) -> None:
    path = write(tmp_path, "p.yaml", text)
    result = run(command, path)
    assert (result.exit_code, type(result.exception)) == (1, SystemExit), result.output
    assert f"error: {path}{message}" in result.stderr and "Traceback" not in result.output


def test_validate_checks_the_tests_file_beside_the_policy(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POLICY)
    tests = write(tmp_path, "p.tests.yaml", "tests:\n  - name: x\n    expect: {decision: allow}\n")
    result = run("validate", path)
    assert result.exit_code == 1
    assert f"{tests}:2: tests[0]: give either request or findings" in result.stderr


def test_validate_rejects_a_reroute_to_a_model_the_config_lacks(tmp_path: Path) -> None:
    text = POLICY + (
        "  - id: r\n    match: {classes: [legal.contract]}\n    action: reroute\n"
        "    reroute: {to: gpt-4o}\n"
    )
    path = write(tmp_path, "p.yaml", text)
    result = run("validate", path)
    assert result.exit_code == 1
    # file:line: key: problem, as for every other policy error
    expected = f"{path}:15: rules[2].reroute.to: 'gpt-4o' is not a model in the config's models"
    assert expected in result.stderr


# -- test ----------------------------------------------------------------------------


def test_the_enterprise_cases_pass_and_reach_every_rule(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run("test", ENTERPRISE, "--config", QUICKSTART, "--junit-xml", str(junit))
    assert result.exit_code == 0, result.output
    total = len(yaml.safe_load(Path(ENTERPRISE_TESTS).read_text(encoding="utf-8"))["tests"])
    assert f"{total} cases: {total} passed, 0 failed" in result.stdout
    assert "rules no case reached: none" in result.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(total) and suite.get("failures") == "0"


CASES = """\
tests:
  - name: email is redacted
    request:
      model: gpt-4o
      messages: [{role: user, content: "Write to dana.whitfield@northwind-example.com"}]
    expect: {decision: redact, rules: [mail.redact], redacted: [pii.email]}
  - name: a secret in prod is blocked
    principal: {environment: prod}
    findings: [{class: secret.github_token}]
    model: gpt-4o
    expect: {decision: allow}
"""


def test_a_failing_case_exits_1_with_a_diff_and_junit_failure(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POLICY)
    write(tmp_path, "p.tests.yaml", CASES)
    junit = tmp_path / "out.xml"
    result = run("test", path, "--junit-xml", str(junit))
    assert result.exit_code == 1
    out = result.stdout
    assert "PASS  email is redacted" in out
    assert f"FAIL  a secret in prod is blocked  ({tmp_path / 'p.tests.yaml'}:7)" in out
    assert "decision: expected allow, got block" in out
    assert "trace: pass 1 secrets.prod: block (secret.github_token)" in out
    assert "2 cases: 1 passed, 1 failed" in out
    assert "rules no case reached: model.unapproved" in out

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["a secret in prod is blocked"]
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "decision: expected allow, got block"


def test_json_report(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POLICY)
    write(tmp_path, "p.tests.yaml", CASES)
    result = run("test", path, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["ok"], data["cases"], data["failed"]) == (False, 2, 1)
    assert data["results"][1]["mismatches"] == [
        {"field": "decision", "expected": "allow", "actual": "block"}
    ]


def test_a_policy_without_cases_fails(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POLICY)
    result = run("test", path)
    assert result.exit_code == 1
    assert "no test case ran" in result.stderr
    assert str(tmp_path / "p.tests.yaml") in result.stderr


def test_a_request_that_does_not_parse_is_a_failed_case(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POLICY)
    write(
        tmp_path,
        "p.tests.yaml",
        "tests:\n  - name: no model\n    request: {messages: []}\n    expect: {decision: allow}\n",
    )
    result = run("test", path)
    assert result.exit_code == 1
    assert "error: request: model must be a non-empty string." in result.stdout


# -- explain -------------------------------------------------------------------------


def test_explain_names_the_matching_rule_and_why_others_did_not(tmp_path: Path) -> None:
    request = write(tmp_path, "req.json", json.dumps(EMAIL_REQUEST))
    result = run(
        "explain",
        ENTERPRISE,
        "--config",
        QUICKSTART,
        "--request",
        request,
        "--principal",
        "app=support-bot",
        "--principal",
        "role=agent",
        "--principal",
        "role=lead",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "call: chat.completions model gpt-4o by key_id=test, name=policy-test" in out
    assert "app=support-bot, environment=dev, roles=agent,lead\n" in out
    assert re.search(r"pii\.email in user score [01]\.\d\d x1 \(confidential\)", out)
    assert "dana" not in out  # never values
    assert "MATCH pii.external (redact): pass 2: redact (pii.email)" in out
    assert "-     unscanned.prod (block): no match: environment: 'dev' matches none of prod" in out
    assert "exc-billing-disputes for pii.restricted.prod (app=billing; approved): " in out
    assert "decision: redact" in out and "redactions: pii.email: pseudonymise" in out


def test_explain_json_with_model_and_exception(tmp_path: Path) -> None:
    request = write(tmp_path, "req.json", json.dumps(EMAIL_REQUEST))
    result = run(
        "explain",
        ENTERPRISE,
        "--config",
        QUICKSTART,
        "--request",
        request,
        "--model",
        "gpt-4.1",
        "--exception",
        "exc-nope",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["call"]["model"] == "gpt-4.1" and data["call"]["exception"] == "exc-nope"
    assert data["decision"]["action"] == "block"
    assert data["decision"]["code"] == "exception_invalid"
    assert data["checks"] == [
        {"rule": "-", "stage": "exception", "outcome": "invalid", "detail": "exc-nope"}
    ]


@pytest.mark.parametrize("pair", ["colour=blue", "no-equals"])
def test_explain_bad_principal_is_a_usage_error(tmp_path: Path, pair: str) -> None:
    request = write(tmp_path, "req.json", json.dumps(EMAIL_REQUEST))
    result = run(
        "explain", write(tmp_path, "p.yaml", POLICY), "--request", request, "--principal", pair
    )
    assert result.exit_code == 2
    assert "--principal" in result.stderr


def test_explain_a_responses_body_asks_for_its_endpoint(tmp_path: Path) -> None:
    body = {"model": "gpt-4o", "input": "Mail dana@example.com the notes"}
    request = write(tmp_path, "req.json", json.dumps(body))
    policy = write(tmp_path, "p.yaml", POLICY)
    result = run("explain", policy, "--request", request)
    assert result.exit_code == 1
    assert "--endpoint responses or --endpoint embeddings" in result.stderr
    named = run("explain", policy, "--request", request, "--endpoint", "responses")
    assert named.exit_code == 0, named.output
    assert "call: responses model gpt-4o" in named.stdout


def test_explain_a_body_that_is_not_json_fails(tmp_path: Path) -> None:
    request = write(tmp_path, "req.json", "{nope")
    result = run("explain", write(tmp_path, "p.yaml", POLICY), "--request", request)
    assert result.exit_code == 1
    assert "not JSON" in result.stderr


# -- diff ----------------------------------------------------------------------------


def test_diff_shows_changed_added_removed_and_moved_rules(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", POLICY)
    new_text = (
        POLICY.replace("version: v1", "version: v2")
        .replace("action: redact", "action: redact\n    transform: mask")
        .replace("gpt-4o: {max_sensitivity: confidential}", "gpt-4o: {max_sensitivity: internal}")
    )
    new_text += "  - id: added.rule\n    match: {tools: [shell]}\n    action: block\n"
    new = write(tmp_path, "new.yaml", new_text)
    result = run("diff", old, new)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert 'version: "v1" -> "v2"' in out
    assert '  ~ mail.redact\n      transform: (unset) -> "mask"' in out
    assert "  + added.rule" in out
    assert '  ~ gpt-4o\n      max_sensitivity: "confidential" -> "internal"' in out

    data = json.loads(run("diff", "--json", old, new).stdout)
    assert data["rules"]["changed"] == {
        "mail.redact": [{"key": "transform", "old": None, "new": "mask"}]
    }
    assert data["rules"]["added"] == ["added.rule"] and data["same"] is False


def test_diff_of_reordered_rules_and_identical_files(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", POLICY)
    head, first, second = POLICY.split("  - id: ")
    new = write(tmp_path, "new.yaml", head + "  - id: " + second + "  - id: " + first)
    out = run("diff", old, new).stdout
    assert "  ~ secrets.prod: position 2 -> 1" in out
    same = run("diff", old, old)
    assert same.exit_code == 0 and "no structural change" in same.stdout
