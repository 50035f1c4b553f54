"""The detect → decide → transform stages built from the config (one place, used by the
server, the CLI's ``scan``/``classes`` and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import Keyring
from bastion.crypto.location import open_keyring
from bastion.detect.catalog import build_scanner, class_registry
from bastion.detect.inspector import DetectorInspector
from bastion.errors import ConfigError
from bastion.policy.base import AllowAll, Decider
from bastion.policy.loader import Policy, load_policy
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
    decider: Decider = AllowAll()
    if config.policy.file is not None:
        decider = load_configured_policy(config, config.policy.file)
    inspector = DetectorInspector(build_scanner(config.detectors), keyring)
    return Guardrails(inspector, decider, Redactor(keyring), keyring)


def load_configured_policy(config: BastionConfig, path: Path) -> Policy:
    """The policy file at ``path``, checked against this config's classes and models."""
    registry = class_registry(config.detectors)
    providers = {name: model.targets[0].provider for name, model in config.models.items()}
    policy = load_policy(
        path,
        {name: info.sensitivity for name, info in registry.items()},
        model_providers=providers,
    )
    check_policy_models(policy, config, str(path))
    return policy


def check_policy_models(policy: Policy, config: BastionConfig, where: str) -> None:
    """Reroute targets must be models this gateway serves, of the kind the rerouted
    calls need: a call must never be sent to a model that cannot answer it."""
    for index, rule in enumerate(policy.document.rules):
        if rule.reroute is None:
            continue
        target = config.models.get(rule.reroute.to)
        if target is None:
            raise ConfigError(
                f"{where}: rules[{index}].reroute.to: {rule.reroute.to!r} is not a model "
                "in the config's models"
            )
        endpoints = set(rule.match.endpoints or ("chat.completions", "responses", "embeddings"))
        serves = {"embeddings"} if target.kind == "embedding" else {"chat.completions", "responses"}
        unserved = ", ".join(sorted(endpoints - serves))
        if unserved:
            article = "an" if target.kind == "embedding" else "a"
            raise ConfigError(
                f"{where}: rules[{index}].reroute.to: {rule.reroute.to!r} is {article} "
                f"{target.kind} model and cannot answer {unserved} calls; "
                f"limit the rule with match.endpoints: [{', '.join(sorted(serves))}]"
            )
