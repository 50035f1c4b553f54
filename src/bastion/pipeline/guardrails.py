"""The detect → decide → transform stages built from the config (one place, used by the
server, the CLI's ``scan``/``classes`` and tests)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import Keyring
from bastion.crypto.location import open_keyring
from bastion.detect.catalog import build_scanner, class_registry
from bastion.detect.inspector import DetectorInspector
from bastion.detect.registry import ClassInfo
from bastion.errors import ConfigError
from bastion.policy.base import AllowAll, Decider
from bastion.policy.rules import RulesDecider, load_policy
from bastion.transform.redact import Redactor


@dataclass(frozen=True, slots=True)
class Guardrails:
    """What the pipeline's inspect, decide and apply phases run."""

    inspector: DetectorInspector
    decider: Decider
    transformer: Redactor
    keyring: Keyring


def build_guardrails(config: BastionConfig, *, keyring: Keyring | None = None) -> Guardrails:
    """Build every stage from ``config``; raises ``ConfigError`` naming what is wrong."""
    keyring = keyring or open_keyring(config)
    registry = class_registry(config.detectors)
    decider: Decider = AllowAll()
    if config.policy.file is not None:
        policy = load_policy(config.policy.file)
        check_policy_classes(policy, registry, str(config.policy.file))
        decider = policy
    inspector = DetectorInspector(build_scanner(config.detectors), keyring)
    return Guardrails(inspector, decider, Redactor(keyring), keyring)


def check_policy_classes(policy: RulesDecider, registry: dict[str, ClassInfo], where: str) -> None:
    """Every class a rule names must exist: a typo must not silently match nothing."""
    for index, rule in enumerate(policy.document.rules):
        for glob in rule.match.classes:
            if not any(fnmatch.fnmatchcase(name, glob) for name in registry):
                raise ConfigError(
                    f"{where}: rules[{index}].match.classes: {glob!r} matches no data class "
                    "(`bastion classes` lists them)"
                )
