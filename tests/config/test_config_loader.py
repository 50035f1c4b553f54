"""load_config: typo rejection with lines, precedence of sources, file discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import load_config
from bastion.errors import ConfigError

PROVIDER = "providers:\n  openai:\n    kind: openai\n    base_url: http://up/v1\n"


def write(tmp_path: Path, text: str, name: str = "bastion.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path | None, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_typo_names_file_line_key_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  host: 127.0.0.1\n  prot: 9090\n")
    assert error_of(path, environ={}) == (
        f"{path}:3: server.prot: unknown key (did you mean 'port'?)"
    )


def test_typo_in_a_section_name_and_in_a_named_entry(tmp_path: Path) -> None:
    path = write(tmp_path, PROVIDER + "    api_kye: k\nstorge: {}\n")
    assert error_of(path, environ={}).splitlines() == [
        f"{path}:5: providers.openai.api_kye: unknown key (did you mean 'api_key'?)",
        f"{path}:6: storge: unknown key (did you mean 'storage'?)",
    ]


def test_unknown_key_without_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "redis:\n  zzz: 1\n")
    assert error_of(path, environ={}) == (
        f"{path}:2: redis.zzz: unknown key (expected one of: url, timeout_s, key_prefix)"
    )


def test_missing_key_points_at_the_parent_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "server: {}\nproviders:\n  openai:\n    kind: openai\n")
    assert error_of(path, environ={}) == (
        f"{path}:3: providers.openai.base_url: missing required key"
    )


def test_bad_value_names_its_line_without_echoing_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        PROVIDER.replace("kind: openai", "kind: anthropic") + "    api_key: sk-canary-91c\n",
    )
    message = error_of(path, environ={})
    assert message.startswith(f"{path}:3: providers.openai.kind: Input should be 'openai'")
    assert "sk-canary-91c" not in message


def test_empty_section_says_what_to_write(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 1\nlimits:\n")
    assert error_of(path, environ={}) == (
        f"{path}:3: limits: expected a mapping of keys (write {{}} or leave the section out "
        "for defaults)"
    )


def test_cross_field_check_points_at_the_named_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        PROVIDER + "models:\n  gpt-4.1:\n    targets:\n      - {provider: opena, model: gpt-4.1}\n",
    )
    assert error_of(path, environ={}) == (
        f"{path}:6: models.gpt-4.1: target provider 'opena' is not defined under providers "
        "(defined: openai)"
    )


def test_proxy_and_admin_on_one_port_fail_at_load(tmp_path: Path) -> None:
    """`config validate` said ok and `serve` failed to bind the second listener."""
    path = write(tmp_path, "server:\n  port: 9090\n  admin: {port: 9090}\n")
    assert error_of(path, environ={}) == (
        f"{path}:1: server: port and admin.port are both 9090: the proxy and the admin API "
        "need a port each"
    )
    apart = write(tmp_path, "server:\n  port: 0\n  admin: {port: 0}\n", "random.yaml")
    assert load_config(apart, environ={}).server.admin.port == 0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            'storage: {url: "mysql://u:pw-canary@db/x"}',
            "storage.url: uses the unsupported scheme 'mysql'; use sqlite:/// or postgresql://",
            id="unsupported-database",
        ),
        pytest.param(
            'storage: {url: "sqlite://"}',
            "storage.url: must name a SQLite file (sqlite:///path/to/bastion.db)",
            id="in-memory-sqlite",
        ),
        pytest.param(
            'redis: {url: "http://u:pw-canary@cache:6379"}',
            "redis.url: must be a redis://, rediss:// or unix:// URL",
            id="redis-scheme",
        ),
    ],
)
def test_a_store_url_the_gateway_cannot_open_fails_at_load(
    tmp_path: Path, line: str, expected: str
) -> None:
    """`config validate` and reloads refuse it, by file and line, instead of `serve`
    failing at start-up (Redis: with a traceback)."""
    path = write(tmp_path, f"server: {{port: 1}}\n{line}\n")
    message = error_of(path, environ={})
    assert message.startswith(f"{path}:2: {expected}")
    assert "pw-canary" not in message


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: high\n  workers: 0\naudit:\n  max_batch: 0\n")
    lines = error_of(path, environ={}).splitlines()
    assert [line.split(": ")[:2] for line in lines] == [
        [f"{path}:2", "server.port"],
        [f"{path}:3", "server.workers"],
        [f"{path}:5", "audit.max_batch"],
    ]


# Precedence: one key (server.port) set at every level; each level beats the ones below.
@pytest.mark.parametrize(
    ("in_file", "in_env", "flag", "expected"),
    [
        pytest.param(False, False, False, 8080, id="default"),
        pytest.param(True, False, False, 1111, id="file-over-default"),
        pytest.param(True, True, False, 2222, id="env-over-file"),
        pytest.param(True, True, True, 3333, id="flag-over-env"),
        pytest.param(False, True, True, 3333, id="flag-over-env-without-file"),
    ],
)
def test_precedence_flag_env_file_default(
    tmp_path: Path, in_file: bool, in_env: bool, flag: bool, expected: int
) -> None:
    path = write(tmp_path, "server:\n  port: 1111\n" if in_file else "server: {}\n")
    environ = {"BASTION_SERVER__PORT": "2222"} if in_env else {}
    overrides = {"server.port": 3333} if flag else None
    assert load_config(path, overrides=overrides, environ=environ).server.port == expected


def test_environment_overrides_one_key_and_keeps_its_siblings(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  host: 10.1.1.1\n  port: 1111\n  admin: {port: 7}\n")
    loaded = load_config(path, environ={"BASTION_SERVER__ADMIN__PORT": "9"})
    assert (loaded.server.host, loaded.server.port, loaded.server.admin.port) == (
        "10.1.1.1",
        1111,
        9,
    )


def test_environment_reaches_named_entries_and_json_values(tmp_path: Path) -> None:
    path = write(tmp_path, PROVIDER)
    loaded = load_config(
        path,
        environ={
            "BASTION_PROVIDERS__OPENAI__API_KEY": "sk-from-env",
            "BASTION_SERVER__CORS__ALLOW_ORIGINS": '["https://a.example"]',
        },
    )
    key = loaded.providers["openai"].api_key
    assert key is not None and key.get_secret_value() == "sk-from-env"
    assert loaded.server.cors.allow_origins == ["https://a.example"]


def test_bad_environment_value_is_blamed_on_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 1111\n")
    assert error_of(path, environ={"BASTION_SERVER__PROT": "1"}) == (
        "environment BASTION_SERVER__PROT: server.prot: unknown key (did you mean 'port'?)"
    )
    assert error_of(path, environ={"BASTION_SERVER__PORT": "x"}).startswith(
        "environment BASTION_SERVER__PORT: server.port: Input should be a valid integer"
    )


def test_bad_flag_is_blamed_on_the_flag() -> None:
    assert error_of(None, overrides={"server.port": -1}, environ={}).startswith(
        "command-line flag: server.port: Input should be greater than or equal to 0"
    )


def test_flag_set_to_none_means_not_given(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 1111\n")
    assert load_config(path, overrides={"server.port": None}, environ={}).server.port == 1111


def test_process_settings_are_not_config_keys(tmp_path: Path) -> None:
    environ = {"BASTION_LOG_LEVEL": "debug", "BASTION_ADMIN_TOKEN": "t", "OTHER__X": "1"}
    assert load_config(write(tmp_path, "{}\n"), environ=environ).server.port == 8080


def test_path_comes_from_bastion_config_when_not_given(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 4444\n")
    assert load_config(environ={"BASTION_CONFIG": str(path)}).server.port == 4444
    other = write(tmp_path, "server:\n  port: 5555\n", name="other.yaml")
    assert load_config(other, environ={"BASTION_CONFIG": str(path)}).server.port == 5555


def test_no_file_gives_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_config(environ={})
    assert loaded.server.port == 8080 and loaded.providers == {}
    assert loaded.storage.url == f"sqlite:///{tmp_path}/.bastion/bastion.db"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert error_of(missing, environ={}) == (
        f"cannot read config file {missing}: No such file or directory"
    )
    assert "nope.yaml" in error_of(None, environ={"BASTION_CONFIG": str(missing)})


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ("limits:\n  rules:\n    - budgets: [{period: day, usd: .inf}]\n", 3),
        ("limits:\n  rules:\n    - budgets: [{period: day, usd: 1e300}]\n", 3),
        ("limits:\n  pricing:\n    gpt-4o: {input: .nan, output: 10}\n", 3),
        (
            "providers:\n  openai:\n    kind: openai\n    base_url: http://up/v1\n"
            "    timeouts: {total_s: .inf}\n",
            5,
        ),
    ],
    ids=["infinite-budget", "budget-beyond-any-counter", "nan-price", "infinite-timeout"],
)
def test_infinite_or_unrepresentable_numbers_are_refused_at_load(
    tmp_path: Path, section: str, line: int
) -> None:
    # they used to pass validation and crash `bastion serve` (OverflowError) or disable
    # a limit silently; the file and line say where
    path = write(tmp_path, section)
    assert error_of(path, environ={}).startswith(f"{path}:{line}: ")
