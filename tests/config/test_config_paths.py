"""Relative paths resolve against the config file's directory; key files are read once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import load_config
from bastion.config.paths import resolve_sqlite_url
from bastion.errors import ConfigError

PROVIDER = "providers:\n  openai:\n    kind: openai\n    base_url: http://up/v1\n"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from a directory that is not the config file's."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def config_in(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "conf"
    directory.mkdir(exist_ok=True)
    path = directory / "bastion.yaml"
    path.write_text(text)
    return path


def test_relative_paths_in_the_file_resolve_against_its_directory(
    tmp_path: Path, elsewhere: Path
) -> None:
    path = config_in(
        tmp_path,
        "policy:\n  file: policies/p.yaml\nstorage:\n  url: sqlite:///.bastion/bastion.db\n",
    )
    loaded = load_config(path, environ={})
    assert loaded.policy.file == tmp_path / "conf" / "policies" / "p.yaml"
    assert loaded.storage.url == f"sqlite:///{tmp_path}/conf/.bastion/bastion.db"


def test_relative_config_path_still_gives_absolute_paths(tmp_path: Path, elsewhere: Path) -> None:
    config_in(tmp_path, "policy:\n  file: p.yaml\n")
    loaded = load_config(Path("..") / "conf" / "bastion.yaml", environ={})
    assert loaded.policy.file is not None and loaded.policy.file.is_absolute()
    assert loaded.policy.file.resolve() == tmp_path / "conf" / "p.yaml"


def test_default_storage_lands_beside_the_config_file(tmp_path: Path, elsewhere: Path) -> None:
    loaded = load_config(config_in(tmp_path, "{}\n"), environ={})
    assert loaded.storage.url == f"sqlite:///{tmp_path}/conf/.bastion/bastion.db"


def test_values_from_environment_are_relative_to_the_current_directory(
    tmp_path: Path, elsewhere: Path
) -> None:
    path = config_in(tmp_path, "{}\n")
    loaded = load_config(
        path,
        environ={"BASTION_STORAGE__URL": "sqlite:///data/b.db", "BASTION_POLICY__FILE": "p.yaml"},
    )
    assert loaded.storage.url == f"sqlite:///{elsewhere}/data/b.db"
    assert loaded.policy.file == elsewhere / "p.yaml"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("sqlite:///rel/b.db", "sqlite:////base/rel/b.db", id="relative"),
        pytest.param(
            "sqlite+aiosqlite:///b.db?timeout=5",
            "sqlite+aiosqlite:////base/b.db?timeout=5",
            id="driver-and-query",
        ),
        pytest.param("sqlite:////abs/b.db", "sqlite:////abs/b.db", id="absolute"),
        pytest.param("sqlite:///:memory:", "sqlite:///:memory:", id="memory"),
        pytest.param("sqlite://", "sqlite://", id="memory-short"),
        pytest.param("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db", id="postgres"),
    ],
)
def test_resolve_sqlite_url(url: str, expected: str) -> None:
    assert resolve_sqlite_url(url, Path("/base")) == expected


def test_api_key_file_is_read_relative_to_the_config(tmp_path: Path, elsewhere: Path) -> None:
    path = config_in(tmp_path, PROVIDER + "    api_key_file: secrets/openai.key\n")
    (tmp_path / "conf" / "secrets").mkdir()
    (tmp_path / "conf" / "secrets" / "openai.key").write_text("sk-from-file-123\n")
    provider = load_config(path, environ={}).providers["openai"]
    assert provider.api_key is not None
    assert provider.api_key.get_secret_value() == "sk-from-file-123"
    assert provider.api_key_file == tmp_path / "conf" / "secrets" / "openai.key"


def test_unreadable_api_key_file_names_key_and_line(tmp_path: Path, elsewhere: Path) -> None:
    path = config_in(tmp_path, PROVIDER + "    api_key_file: missing.key\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}:5: providers.openai.api_key_file: cannot read "
        f"{tmp_path}/conf/missing.key: No such file or directory"
    )


def test_api_key_file_that_is_a_directory_is_an_error(tmp_path: Path, elsewhere: Path) -> None:
    path = config_in(tmp_path, PROVIDER + "    api_key_file: keys\n")
    (tmp_path / "conf" / "keys").mkdir()
    with pytest.raises(
        ConfigError, match=r":5: providers.openai.api_key_file: cannot read .*keys: Is a directory"
    ):
        load_config(path, environ={})


def test_empty_api_key_file_is_an_error(tmp_path: Path, elsewhere: Path) -> None:
    path = config_in(tmp_path, PROVIDER + "    api_key_file: k\n")
    (tmp_path / "conf" / "k").write_text("\n")
    with pytest.raises(ConfigError, match=r"providers.openai.api_key_file: .* is empty"):
        load_config(path, environ={})


def test_api_key_and_api_key_file_together_are_refused(tmp_path: Path) -> None:
    path = config_in(tmp_path, PROVIDER + "    api_key: sk-canary-both\n    api_key_file: k\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}:2: providers.openai: set api_key or api_key_file, not both"
    )
