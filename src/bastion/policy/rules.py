"""Deciding a call from its findings with the policy file's rules (pure, no I/O).

Blocking rules win over redaction; redaction rules combine per class with the strongest
transform winning (drop > mask > hash > synthesize > pseudonymise). Class globs are
resolved against the finding classes of the call.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bastion.config.diagnostics import config_error_from_validation
from bastion.config.layers import Origin
from bastion.config.yaml_lines import load_lined_yaml
from bastion.errors import ConfigError
from bastion.model import Conversation, Decision, Finding, Principal
from bastion.model.decision import Action
from bastion.policy.document import PolicyDocument, Rule

_STRENGTH = {"drop": 5, "mask": 4, "hash": 3, "synthesize": 2, "pseudonymise": 1}
_DEFAULT_BLOCK = "This request contains data the policy does not allow to leave: {classes}."


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    id: str
    globs: tuple[str, ...]
    min_score: float
    action: str
    transform: str
    message: str | None

    def classes_in(self, findings: Sequence[Finding]) -> set[str]:
        return {
            f.data_class
            for f in findings
            if f.score >= self.min_score
            and any(fnmatch.fnmatchcase(f.data_class, glob) for glob in self.globs)
        }


class RulesDecider:
    """The ``Decider`` for a loaded policy document."""

    def __init__(self, document: PolicyDocument, digest: str) -> None:
        self.document = document
        self._version = f"{document.name}@{document.version}+{digest[:12]}"
        self._rules = tuple(_compile(index, rule) for index, rule in enumerate(document.rules))

    @property
    def version(self) -> str:
        return self._version

    def decide(
        self, principal: Principal, conversation: Conversation, findings: Sequence[Finding]
    ) -> Decision:
        del principal, conversation  # rules on principals and models arrive with issue #4
        blocked: list[tuple[_CompiledRule, set[str]]] = []
        redactions: dict[str, str] = {}
        redact_rules: list[str] = []
        allowed: set[str] = set()
        for rule in self._rules:
            classes = rule.classes_in(findings) - allowed
            if not classes:
                continue
            if rule.action == "allow":
                allowed |= classes  # earlier allow rules exempt these classes from later ones
            elif rule.action == "block":
                blocked.append((rule, classes))
            else:
                redact_rules.append(rule.id)
                for data_class in classes:
                    current = redactions.get(data_class)
                    if current is None or _STRENGTH[rule.transform] > _STRENGTH[current]:
                        redactions[data_class] = rule.transform
        if blocked:
            rule, classes = blocked[0]
            names = ", ".join(sorted(classes))
            message = (rule.message or _DEFAULT_BLOCK).replace("{classes}", names)
            return Decision(
                Action.BLOCK,
                tuple(r.id for r, _ in blocked),
                self._version,
                message=message,
            )
        if redactions:
            return Decision(
                Action.REDACT,
                tuple(redact_rules),
                self._version,
                redacted_classes=tuple(sorted(redactions)),
                redactions=tuple(sorted(redactions.items())),
            )
        return Decision(Action.ALLOW, (), self._version)


def _compile(index: int, rule: Rule) -> _CompiledRule:
    return _CompiledRule(
        rule.id or f"rule-{index + 1}",
        tuple(rule.match.classes),
        rule.match.min_score,
        rule.action,
        rule.transform or "pseudonymise",
        rule.message,
    )


def load_policy(path: Path) -> RulesDecider:
    """Read and validate a policy file; errors name ``file:line`` and the key."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc.strerror}") from exc
    try:
        lined = load_lined_yaml(raw.decode("utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the policy file is not UTF-8 text") from exc
    except yaml.YAMLError as exc:  # pragma: no cover - load_lined_yaml converts these
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    origins = {key: Origin("file", str(path), line) for key, line in lined.lines.items()}
    try:
        document = PolicyDocument.model_validate(lined.data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, PolicyDocument, origins, str(path)) from exc
    ids = [rule.id for rule in document.rules if rule.id]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: rule ids must be unique; repeated: {', '.join(duplicates)}")
    return RulesDecider(document, hashlib.sha256(raw).hexdigest())
