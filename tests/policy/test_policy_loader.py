"""Loading a policy file: every mistake is refused with file:line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import ConfigError
from bastion.policy.document import Sensitivity
from bastion.policy.loader import load_policy

CLASSES: dict[str, Sensitivity] = {
    "pii.email": "confidential",
    "pii.credit_card": "restricted",
    "legal.contract": "confidential",
}
MODELS = "models: {ext: {max_sensitivity: confidential}, int: {}}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "name: x\nrules:\n  - match: {classes: [pii.email]}\n    action: nuke\n",
            r"policy.yaml:4: rules\[0\]\.action",
            id="bad-action",
        ),
        pytest.param("name: x\nrulez: []\n", r"policy.yaml:2: rulez: unknown key", id="typo"),
        pytest.param(
            "name: x\nrules:\n  - match: {classes: [pii.email]}\n    action: block\n"
            "    transform: mask\n",
            r"transform applies only",
            id="inconsistent",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: a, match: {classes: [pii.email]}, action: block}\n"
            "  - {id: a, match: {classes: [pii.email]}, action: block}\n",
            r"policy.yaml:4: rules\[1\]\.id: rule id 'a' is repeated",
            id="duplicate-ids",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: Bad Id, match: {classes: [pii.email]}, action: block}\n",
            r"lower-case",
            id="rule-id",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: model.x, action: block}\n",
            r"reserved",
            id="reserved-id",
        ),
        pytest.param(
            "name: x\nrules:\n  - id: a\n    match: {classes: [pii.emial]}\n    action: block\n",
            r"policy.yaml:4: rules\[0\]\.match\.classes: 'pii.emial' matches no data class",
            id="class-typo",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: a, match: {where: [user]}, action: block}\n",
            r"refine `classes`",
            id="where-without-classes",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: a, match: {classes: [pii.email]}, action: reroute}\n",
            r"needs reroute",
            id="reroute-without-target",
        ),
        pytest.param(
            f"name: x\n{MODELS}rules:\n  - id: a\n    match: {{classes: [legal.contract]}}\n"
            "    action: reroute\n    reroute: {to: elsewhere}\n",
            r"policy.yaml:7: rules\[0\]\.reroute\.to: .*'elsewhere' is not an approved model",
            id="reroute-unapproved",
        ),
        pytest.param(
            f"name: x\n{MODELS}rules:\n  - id: a\n    match: {{classes: ['pii.*']}}\n"
            "    action: reroute\n    reroute: {to: ext}\n",
            r"'ext' takes data up to confidential, but this rule sends it pii.credit_card",
            id="reroute-too-sensitive",
        ),
        pytest.param(
            "name: x\nexceptions:\n  - id: e\n    rule: nope\n    scope: {app: a}\n"
            "    justification: j\n    expires: '2027-01-01T00:00:00Z'\n",
            r"policy.yaml:4: exceptions\[0\]\.rule: no rule 'nope'",
            id="exception-unknown-rule",
        ),
        pytest.param(
            "name: x\nexceptions:\n  - id: e\n    rule: model.max_sensitivity\n    scope: {}\n"
            "    justification: j\n    expires: '2027-01-01T00:00:00Z'\n",
            r"scope needs at least one",
            id="exception-empty-scope",
        ),
        pytest.param(
            "name: x\nexceptions:\n  - id: e\n    rule: model.max_sensitivity\n"
            "    scope: {app: a}\n    justification: j\n    expires: '2027-01-01T00:00:00'\n",
            r"time zone",
            id="exception-naive-expiry",
        ),
        pytest.param(
            "name: x\nexceptions:\n  - id: e\n    rule: model.unapproved\n"
            "    scope: {app: a}\n    justification: j\n    expires: '2027-01-01T00:00:00Z'\n",
            r"exceptions\[0\]\.rule: no rule 'model.unapproved' in this policy that an exception",
            id="exception-cannot-approve-a-model",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: ok, match: {app: [a]}, action: allow}\n"
            "exceptions:\n  - id: e\n    rule: ok\n"
            "    scope: {app: a}\n    justification: j\n    expires: '2027-01-01T00:00:00Z'\n",
            r"policy.yaml:6: exceptions\[0\]\.rule: rule 'ok' is an allow rule: it refuses no call",
            id="exception-to-an-allow-rule",
        ),
        pytest.param(
            "name: x\ntests:\n  - name: t\n    expect: {decision: allow}\n",
            r"either request or findings",
            id="test-without-input",
        ),
        pytest.param("", r"/policy.yaml:1: name: missing required key$", id="empty-file"),
        pytest.param(
            "- name: x\n- rules: []\n",
            r"/policy.yaml:1: the top level must be a mapping of sections "
            r"\(name:, version:, rules:, \.\.\.\), found a list$",
            id="top-level-list",
        ),
        pytest.param(
            "name: x\nrules: block\n",
            r"policy.yaml:2: rules: Input should be a valid list",
            id="rules-scalar",
        ),
        pytest.param(
            "name: x\nrules:\n  - block\n",
            r"policy.yaml:3: rules\[0\]: expected a mapping of keys",
            id="rule-scalar",
        ),
        pytest.param(
            "name: x\nrules:\n  - id: a\n",
            r"policy.yaml:3: rules\[0\]\.action: missing required key",
            id="rule-without-match-or-action",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: a, match: {classes: ['[']}, action: block}\n",
            r"policy.yaml:3: rules\[0\]\.match\.classes: '\[' matches no data class",
            id="class-glob-unclosed",
        ),
        pytest.param(
            "name: x\ntools:\n  constraints:\n"
            "    - {id: t, tool: f, arguments: {u: {pattern: '(['}}}\n",
            r"policy.yaml:4: tools\.constraints\[0\]\.arguments\.u\.pattern: constraint 't': "
            r"not an RE2 expression",
            id="bad-regex",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_policy(path, CLASSES)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy file"):
        load_policy(tmp_path / "none.yaml", CLASSES)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_policy(binary, CLASSES)


def test_single_strings_stand_for_lists(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: x\nrules:\n  - {id: a, match: {classes: pii.email, team: t}, action: block}\n",
        encoding="utf-8",
    )
    rule = load_policy(path, CLASSES).document.rules[0]
    assert rule.match.classes == ["pii.email"] and rule.match.team == ["t"]
