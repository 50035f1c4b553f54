"""examples/quickstart.yaml runs as it is (CONTRACT.md §2)."""

from __future__ import annotations

from pathlib import Path

from bastion.config import load_config

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def test_loads_with_an_empty_environment_and_targets_the_simulator() -> None:
    config = load_config(QUICKSTART, environ={})
    provider = config.providers["openai"]
    assert provider.kind == "openai"
    assert provider.base_url == "http://127.0.0.1:9000/v1"
    assert provider.api_key is not None
    assert provider.api_key.get_secret_value() == "sk-simulator"
    assert (config.server.host, config.server.port, config.server.admin.port) == (
        "127.0.0.1",
        8080,
        8081,
    )
    assert config.policy.file == QUICKSTART.parent / "policies" / "enterprise.yaml"
    assert config.storage.url == f"sqlite:///{QUICKSTART.parent}/.bastion/bastion.db"


def test_exposes_the_contract_models() -> None:
    models = load_config(QUICKSTART, environ={}).models
    targets = {
        name: (model.kind, [(t.provider, t.model) for t in model.targets])
        for name, model in models.items()
    }
    assert targets == {
        "gpt-4o-mini": ("chat", [("openai", "gpt-4o-mini")]),
        "gpt-4o": ("chat", [("openai", "gpt-4o")]),
        "text-embedding-3-small": ("embedding", [("openai", "text-embedding-3-small")]),
        "internal-llm": ("chat", [("internal", "llama-3.1-70b-instruct")]),
        "gpt-4.1": ("chat", [("openai", "gpt-4.1")]),
    }


def test_environment_switches_to_the_real_provider() -> None:
    environ = {"OPENAI_BASE_URL": "https://api.openai.com/v1", "OPENAI_API_KEY": "sk-real-1"}
    provider = load_config(QUICKSTART, environ=environ).providers["openai"]
    assert provider.base_url == "https://api.openai.com/v1"
    assert provider.api_key is not None
    assert provider.api_key.get_secret_value() == "sk-real-1"
