"""The policies and calls the policy benchmark decides.

The 200-rule policy is what a large company's file grows into: per-app and per-team
rules over secrets, personal data, contracts and code, environment-specific
exceptions, tool rules and model-specific redaction — each rule with its own
conditions, so the index has real work to do.
"""

from __future__ import annotations

from pathlib import Path

from bastion.config import load_config
from bastion.detect.catalog import class_registry
from bastion.model import Principal
from bastion.model.facts import CallFacts, ClassFact
from bastion.pipeline.guardrails import load_configured_policy
from bastion.policy.loader import Policy, parse_policy

REPO = Path(__file__).resolve().parents[2]
_SECRET_KINDS = ("aws_*", "github_*", "stripe_*", "slack_*", "openai_*", "gcp_*", "azure_*")
_PII = ("email", "phone", "credit_card", "iban", "us_ssn", "national_id", "passport")
_TRANSFORMS = ("pseudonymise", "mask", "hash", "synthesize", "drop")


def _rules() -> list[str]:
    rules = []
    for i in range(40):  # per-app blocks of one secret family
        kind = _SECRET_KINDS[i % len(_SECRET_KINDS)]
        rules.append(
            f"  - {{id: app{i}.secrets, match: {{classes: ['secret.{kind}'], app: app{i}}}, "
            "action: block}"
        )
    for i in range(40):  # per-team reroutes of contracts and code
        cls = "legal.contract" if i % 2 else "code.*"
        rules.append(
            f"  - {{id: team{i}.internal, match: {{classes: ['{cls}'], team: team{i}, "
            "models: 'gpt-*'}, action: reroute, reroute: {to: internal}}"
        )
    for i in range(30):  # environment and app: exceptions required
        pii = _PII[i % len(_PII)]
        rules.append(
            f"  - {{id: prod{i}.{pii}, match: {{classes: [pii.{pii}], environment: prod, "
            f"app: 'svc{i}-*'}}, action: require_exception}}"
        )
    for i in range(30):  # tool rules
        rules.append(
            f"  - {{id: tools{i}, match: {{tools: ['shell_{i}*', 'exec_{i}'], "
            "environment: [prod, staging]}, action: block}"
        )
    for i in range(60):  # per-model, per-team redaction
        pii = _PII[i % len(_PII)]
        transform = _TRANSFORMS[i % len(_TRANSFORMS)]
        rules.append(
            f"  - {{id: redact{i}, match: {{classes: [pii.{pii}], team: 'group{i % 12}', "
            f"models: ['gpt-4o*']}}, action: redact, transform: {transform}}}"
        )
    rules.append("  - {id: secrets.all, match: {classes: ['secret.*']}, action: block}")
    rules.append(
        "  - {id: pii.external, match: {classes: ['pii.*'], models: ['gpt-*']}, action: redact}"
    )
    return rules


def large_policy() -> Policy:
    """A 202-rule policy compiled against the default class registry."""
    text = (
        "name: large\nversion: bench\n"
        "models:\n  gpt-4o-mini: {max_sensitivity: confidential}\n"
        "  gpt-4o: {max_sensitivity: confidential}\n  internal: {}\n"
        "rules:\n" + "\n".join(_rules()) + "\n"
    )
    registry = class_registry()
    return parse_policy(text, "large.yaml", {n: i.sensitivity for n, i in registry.items()})


def example_policy() -> Policy:
    """examples/policies/enterprise.yaml as the quickstart loads it."""
    config = load_config(REPO / "examples" / "quickstart.yaml", environ={})
    assert config.policy.file is not None
    return load_configured_policy(config, config.policy.file)


def _facts(*classes: tuple[str, str], **principal: str) -> CallFacts:
    fields = {"key_id": "k1", "name": "bench", "app": "app7", "team": "group3", **principal}
    return CallFacts(
        Principal(**fields),
        "chat.completions",
        "gpt-4o-mini",
        tuple(ClassFact(name, where, 0.95) for name, where in classes),
        provider="openai",
        tools=("search_docs",),
    )


SCENARIOS: dict[str, CallFacts] = {
    "nothing found": _facts(),
    "email + phone": _facts(("pii.email", "user"), ("pii.phone", "user")),
    "secret (block)": _facts(("secret.aws_access_key", "user"), ("pii.email", "user")),
    "5 classes, prod": _facts(
        ("pii.email", "user"),
        ("pii.credit_card", "retrieved"),
        ("pii.person", "user"),
        ("legal.contract", "retrieved"),
        ("pii.phone", "system"),
        environment="prod",
        app="svc3-billing",
    ),
}
