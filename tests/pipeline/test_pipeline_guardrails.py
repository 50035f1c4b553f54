"""The policy as the gateway loads it: checked against the config's models."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import load_config
from bastion.errors import ConfigError
from bastion.pipeline.guardrails import load_configured_policy

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"
RULE = """\
name: x
rules:
  - id: r
    match: {{classes: [legal.contract]{extra}}}
    action: reroute
    reroute: {{to: {target}}}
"""


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        ("nowhere", "", r"'nowhere' is not a model in the config's models"),
        ("internal-llm", "", r"'internal-llm' is a chat model and cannot answer embeddings"),
        (
            "text-embedding-3-small",
            ", endpoints: [embeddings, responses]",
            r"is an embedding model and cannot answer responses calls",
        ),
    ],
)
def test_reroute_targets_must_serve_the_rerouted_calls(
    tmp_path: Path, target: str, extra: str, message: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(RULE.format(target=target, extra=extra), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_configured_policy(load_config(QUICKSTART, environ={}), path)


def test_the_example_policy_loads_against_the_quickstart() -> None:
    config = load_config(QUICKSTART, environ={})
    assert config.policy.file is not None
    policy = load_configured_policy(config, config.policy.file)
    assert policy.version.startswith("enterprise@") and policy.approves("internal-llm")
    assert not policy.approves("gpt-4.1")
