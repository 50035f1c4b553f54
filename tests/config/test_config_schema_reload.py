"""The published JSON Schema, and reload keeping the last good config."""

from __future__ import annotations

from pathlib import Path

from bastion.config import BastionConfig, config_json_schema, load_config, reload_config
from bastion.errors import ConfigError


def test_json_schema_describes_every_top_level_section() -> None:
    schema = config_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == set(BastionConfig.model_fields)
    for name, section in schema["properties"].items():
        assert section.get("description"), f"{name} has no description"
    assert schema["additionalProperties"] is False


def test_json_schema_forbids_unknown_keys_in_sections() -> None:
    definitions = config_json_schema()["$defs"]
    assert definitions["ServerConfig"]["additionalProperties"] is False
    assert definitions["ProviderConfig"]["required"] == ["kind", "base_url"]
    assert definitions["ServerConfig"]["properties"]["port"]["description"]


def test_reload_returns_the_new_config_when_valid(tmp_path: Path) -> None:
    path = tmp_path / "bastion.yaml"
    path.write_text("server:\n  port: 1111\n")
    current = load_config(path, environ={})
    path.write_text("server:\n  port: 2222\n")
    new, error = reload_config(current, path, environ={})
    assert error is None and new.server.port == 2222


def test_reload_keeps_the_old_config_and_returns_the_error(tmp_path: Path) -> None:
    path = tmp_path / "bastion.yaml"
    path.write_text("server:\n  port: 1111\n")
    current = load_config(path, environ={})
    path.write_text("server:\n  port: 2222\n  prot: 3\n")
    kept, error = reload_config(current, path, environ={})
    assert kept is current
    assert isinstance(error, ConfigError)
    assert f"{path}:3: server.prot: unknown key" in str(error)


def test_reload_of_a_vanished_file_keeps_the_old_config(tmp_path: Path) -> None:
    path = tmp_path / "bastion.yaml"
    path.write_text("server:\n  port: 1111\n")
    current = load_config(path, environ={})
    path.unlink()
    kept, error = reload_config(current, path, environ={})
    assert kept is current and error is not None
