"""`bastion config schema | validate | show` through the real click entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bastion.cli.main import cli

QUICKSTART = str(Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("BASTION_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_schema_prints_the_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["config", "schema"])
    assert result.exit_code == 0
    assert "providers" in json.loads(result.output)["properties"]


def test_validate_ok(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["config", "validate", "--config", QUICKSTART])
    assert result.exit_code == 0
    assert result.output.startswith(f"ok: {QUICKSTART}: 2 providers, 5 models, policy enterprise@")


def test_validate_uses_bastion_config_and_defaults(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["config", "validate"], env={"BASTION_CONFIG": QUICKSTART})
    assert result.exit_code == 0 and QUICKSTART in result.output
    result = runner.invoke(cli, ["config", "validate"])
    assert result.exit_code == 0
    assert result.output == "ok: built-in defaults (no config file): 0 providers, 0 models\n"


def test_validate_failure_exits_1_with_the_error_on_stderr(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  prot: 1\n")
    result = runner.invoke(cli, ["config", "validate", "--config", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{bad}:2: server.prot: unknown key (did you mean 'port'?)" in result.stderr


def test_validate_sees_the_environment_layer(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["config", "validate", "--config", QUICKSTART], env={"BASTION_SERVER__PORT": "x"}
    )
    assert result.exit_code == 1
    assert "environment BASTION_SERVER__PORT: server.port" in result.stderr


def test_show_masks_secrets_in_yaml_and_json(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "k").write_text("sk-canary-file-42\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n"
        "  a: {kind: openai, base_url: 'http://a/v1', api_key: sk-canary-inline-41}\n"
        "  b: {kind: openai, base_url: 'http://b/v1', api_key_file: k}\n"
    )
    for extra in ([], ["--json"]):
        result = runner.invoke(cli, ["config", "show", "--config", str(config), *extra])
        assert result.exit_code == 0
        assert "sk-canary" not in result.output
        assert result.output.count("**********") == 2
    shown = json.loads(result.output)
    assert shown["providers"]["a"]["api_key"] == "**********"
    assert shown["providers"]["b"]["api_key_file"] == str(tmp_path / "k")


def test_show_masks_passwords_in_database_and_redis_urls(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "storage: {url: 'postgresql+asyncpg://bastion:pg-canary-43@db.internal:5432/bastion'}\n"
        "redis: {url: 'rediss://:redis-canary-44@cache.internal:6380/0'}\n"
    )
    for extra in ([], ["--json"]):
        result = runner.invoke(cli, ["config", "show", "--config", str(config), *extra])
        assert result.exit_code == 0
        assert "canary" not in result.output
    shown = json.loads(result.output)
    assert shown["storage"]["url"] == (
        "postgresql+asyncpg://bastion:**********@db.internal:5432/bastion"
    )
    assert shown["redis"]["url"] == "rediss://:**********@cache.internal:6380/0"


def test_show_reflects_environment_overrides(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["config", "show", "--json", "--config", QUICKSTART],
        env={"BASTION_SERVER__PORT": "9090", "OPENAI_BASE_URL": "https://api.openai.com/v1"},
    )
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["server"]["port"] == 9090
    assert shown["providers"]["openai"]["base_url"] == "https://api.openai.com/v1"


def test_show_of_an_invalid_config_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["config", "show", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1
    assert "cannot read config file" in result.stderr


def test_validate_refuses_a_usd_budget_on_a_model_without_a_price(
    runner: CliRunner, tmp_path: Path
) -> None:
    """What `serve` would refuse at start-up, `validate` refuses too."""
    config = tmp_path / "bastion.yaml"
    models = (
        "providers: {local: {kind: openai, base_url: 'http://127.0.0.1:9/v1'}}\n"
        "models: {house-llm: {targets: [{provider: local, model: house-llm}]}}\n"
    )
    budget = "    - {name: teams, scope: [team], budgets: [{period: month, usd: 50}]}\n"
    config.write_text(models + "limits:\n  rules:\n" + budget)
    result = runner.invoke(cli, ["config", "validate", "--config", str(config)])
    assert result.exit_code == 1 and result.stdout == ""
    assert "'house-llm', which has no known price; add limits.pricing.house-llm" in result.stderr
    config.write_text(models + "limits:\n  pricing: {house-llm: {input: 0}}\n  rules:\n" + budget)
    result = runner.invoke(cli, ["config", "validate", "--config", str(config)])
    assert result.exit_code == 0, result.stderr
