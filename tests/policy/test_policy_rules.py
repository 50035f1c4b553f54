"""The minimal policy file: block beats redact, strongest transform wins, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import ConfigError
from bastion.model import Conversation, Endpoint, Finding, Principal
from bastion.model.decision import Action
from bastion.policy.rules import load_policy

PRINCIPAL = Principal(key_id="k1", name="app")
CONVERSATION = Conversation(Endpoint.CHAT, "gpt-4o-mini", ())

POLICY = """\
name: test
version: v2
rules:
  - id: mail.allow
    match: {classes: [pii.email], min_score: 0.95}
    action: allow
  - id: pii.pseudo
    match: {classes: ["pii.*"]}
    action: redact
  - id: card.mask
    match: {classes: [pii.credit_card]}
    action: redact
    transform: mask
  - id: secrets
    match: {classes: ["secret.*"]}
    action: block
    message: "No credentials ({classes})."
"""


def found(*pairs: tuple[str, float]) -> list[Finding]:
    return [Finding(cls, 0, 0, 1, score) for cls, score in pairs]


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_decisions(policy_file: Path) -> None:
    policy = load_policy(policy_file)
    assert policy.version.startswith("test@v2+") and len(policy.version) == len("test@v2+") + 12

    nothing = policy.decide(PRINCIPAL, CONVERSATION, [])
    assert nothing.action is Action.ALLOW and nothing.policy_version == policy.version

    redact = policy.decide(
        PRINCIPAL, CONVERSATION, found(("pii.email", 0.9), ("pii.credit_card", 1))
    )
    assert redact.action is Action.REDACT
    assert dict(redact.redactions) == {"pii.email": "pseudonymise", "pii.credit_card": "mask"}
    assert redact.rules == ("pii.pseudo", "card.mask")
    assert redact.redacted_classes == ("pii.credit_card", "pii.email")

    exempt = policy.decide(PRINCIPAL, CONVERSATION, found(("pii.email", 0.99)))
    assert exempt.action is Action.ALLOW

    block = policy.decide(PRINCIPAL, CONVERSATION, found(("pii.email", 0.9), ("secret.jwt", 0.9)))
    assert block.action is Action.BLOCK and block.rules == ("secrets",)
    assert block.message == "No credentials (secret.jwt)."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "name: x\nrules:\n  - match: {classes: [a.b]}\n    action: nuke\n",
            r"policy.yaml:4: rules\[0\]\.action",
            id="bad-action",
        ),
        pytest.param("name: x\nrulez: []\n", r"policy.yaml:2: rulez: unknown key", id="typo"),
        pytest.param(
            "name: x\nrules:\n  - match: {classes: [a.b]}\n    action: block\n"
            "    transform: mask\n",
            r"transform applies only",
            id="inconsistent",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: a, match: {classes: [a.b]}, action: block}\n"
            "  - {id: a, match: {classes: [a.b]}, action: block}\n",
            r"repeated: a",
            id="duplicate-ids",
        ),
        pytest.param(
            "name: x\nrules:\n  - {id: Bad Id, match: {classes: [a.b]}, action: block}\n",
            r"lower-case",
            id="rule-id",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_policy(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy file"):
        load_policy(tmp_path / "none.yaml")
