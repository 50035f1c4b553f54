"""The detect → decide → transform stages built from the config (one place, used by the
server, the CLI's ``scan``/``classes`` and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import Keyring
from bastion.crypto.location import open_keyring
from bastion.detect.catalog import build_answer_detectors, build_scanner, class_registry
from bastion.detect.inspector import DetectorInspector
from bastion.model.facts import class_set_digest
from bastion.policy.base import AllowAll, Decider
from bastion.policy.compiler import PolicyError
from bastion.policy.document import PolicyDocument
from bastion.policy.loader import Policy, parse_policy, read_policy_text
from bastion.transform.redact import Redactor


@dataclass(frozen=True, slots=True)
class Guardrails:
    """What the pipeline's inspect, decide and apply phases run."""

    inspector: DetectorInspector
    decider: Decider
    transformer: Redactor
    keyring: Keyring
    class_set: tuple[str, ...] = ()
    """Sorted names of the classes the detectors look for (the registry's active ones)."""

    @property
    def class_set_digest(self) -> str:
        """The id call records name their class set by (``ClassSetRepository.save``)."""
        return class_set_digest(self.class_set)


def build_guardrails(
    config: BastionConfig, *, keyring: Keyring | None = None, decider: Decider | None = None
) -> Guardrails:
    """Build every stage from ``config``; raises ``ConfigError`` naming what is wrong.

    The decider is ``decider`` when given (the server's comes from the policy store),
    else the policy file's (the CLI's ``scan``, ``classes`` and ``policy`` commands).
    """
    keyring = keyring or open_keyring(config)
    if decider is None:
        decider = AllowAll()
        if config.policy.file is not None:
            decider = load_configured_policy(config, config.policy.file)
    scanner = build_scanner(config.detectors)
    answer = build_answer_detectors(config.detectors, scanner)
    inspector = DetectorInspector(scanner, keyring, answer)
    return Guardrails(inspector, decider, Redactor(keyring), keyring, active_classes(config))


def active_classes(config: BastionConfig) -> tuple[str, ...]:
    """Sorted names of the classes this config's detectors look for."""
    registry = class_registry(config.detectors)
    return tuple(sorted(name for name, info in registry.items() if info.active))


def load_configured_policy(config: BastionConfig, path: Path) -> Policy:
    """The policy file at ``path``, checked against this config's classes and models."""
    policy = policy_from_text(config, read_policy_text(path), str(path))
    policy.path = path
    return policy


def policy_from_text(config: BastionConfig, text: str, source: str) -> Policy:
    """Policy ``text`` checked against this config's classes and models; ``source``
    names it in errors (a file name, so they read ``file:line: key: problem``)."""
    registry = class_registry(config.detectors)
    providers = {name: model.targets[0].provider for name, model in config.models.items()}
    return parse_policy(
        text,
        source,
        {name: info.sensitivity for name, info in registry.items()},
        model_providers=providers,
        check=lambda document: check_policy_models(document, config),
    )


def check_policy_models(document: PolicyDocument, config: BastionConfig) -> None:
    """Reroute targets must be models this gateway serves, of the kind the rerouted
    calls need: a call must never be sent to a model that cannot answer it.
    ``PolicyError`` names the rule's ``reroute.to``."""
    for index, rule in enumerate(document.rules):
        if rule.reroute is None:
            continue
        target = config.models.get(rule.reroute.to)
        if target is None:
            raise PolicyError(
                ("rules", index, "reroute", "to"),
                f"{rule.reroute.to!r} is not a model in the config's models",
            )
        endpoints = set(rule.match.endpoints or ("chat.completions", "responses", "embeddings"))
        serves = {"embeddings"} if target.kind == "embedding" else {"chat.completions", "responses"}
        unserved = ", ".join(sorted(endpoints - serves))
        if unserved:
            article = "an" if target.kind == "embedding" else "a"
            raise PolicyError(
                ("rules", index, "reroute", "to"),
                f"{rule.reroute.to!r} is {article} {target.kind} model and cannot answer "
                f"{unserved} calls; limit the rule with match.endpoints: "
                f"[{', '.join(sorted(serves))}]",
            )
