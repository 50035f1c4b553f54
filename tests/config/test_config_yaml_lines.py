"""Reading YAML with key lines: duplicates, syntax errors and the shape of the top level."""

from __future__ import annotations

import time

import pytest

from bastion.config.yaml_lines import dotted, load_lined_yaml
from bastion.errors import ConfigError


def test_records_the_line_of_every_key_and_list_item() -> None:
    text = "server:\n  port: 8080\nmodels:\n  m:\n    targets:\n      - provider: p\n"
    document = load_lined_yaml(text, "c.yaml")
    assert document.data["server"]["port"] == 8080
    assert document.lines[("server",)] == 1
    assert document.lines[("server", "port")] == 2
    assert document.lines[("models", "m", "targets", 0)] == 6
    assert document.lines[("models", "m", "targets", 0, "provider")] == 6


def test_duplicate_key_is_an_error_naming_both_lines() -> None:
    text = "server:\n  port: 8080\n  host: 0.0.0.0\n  port: 9090\n"
    with pytest.raises(ConfigError) as caught:
        load_lined_yaml(text, "c.yaml")
    assert str(caught.value) == "c.yaml:4: server.port: duplicate key (first defined on line 2)"


def test_duplicate_top_level_section_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^c.yaml:3: server: duplicate key"):
        load_lined_yaml("server: {}\nredis: {}\nserver: {}\n", "c.yaml")


def test_yaml_syntax_error_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_lined_yaml("server:\n  port: 1\n  host: [unclosed\n", "c.yaml")
    assert str(caught.value).startswith("c.yaml:4: invalid YAML: expected ',' or ']'")
    assert str(caught.value).endswith("(while parsing a flow sequence started on line 3)")


def test_a_control_character_is_an_error_naming_its_line_not_a_crash() -> None:
    # Found by schemathesis on POST /admin/api/policies/validate: PyYAML refuses
    # non-printable characters while constructing its reader, outside the parse.
    with pytest.raises(ConfigError) as caught:
        load_lined_yaml("version: 1\nrules: \x94\n", "policy.yaml")
    assert str(caught.value) == "policy.yaml:2: invalid YAML: character #x0094 is not allowed"


def test_yaml_error_at_a_bad_indent_names_its_line() -> None:
    with pytest.raises(ConfigError, match=r"^c.yaml:3: invalid YAML"):
        load_lined_yaml("server:\n  port: 1\n host: x\n", "c.yaml")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_lined_yaml(text, "c.yaml")


def test_empty_file_is_an_empty_mapping() -> None:
    assert load_lined_yaml("# only a comment\n", "c.yaml").data == {}


def test_keys_stay_as_written() -> None:
    # YAML 1.1 would read `yes` as True and `0755` as an octal int.
    data = load_lined_yaml("models:\n  yes: 1\n  0755: 2\n", "c.yaml").data
    assert set(data["models"]) == {"yes", "0755"}


def test_merge_keys_apply_and_explicit_keys_win() -> None:
    text = "base: &b {connect_s: 1, idle_s: 2}\nt:\n  <<: *b\n  idle_s: 5\n"
    assert load_lined_yaml(text, "c.yaml").data["t"] == {"connect_s": 1, "idle_s": 5}


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object/apply:os.system ['true']\n",
        "x: !!python/name:os.system\n",
        "x: !!python/object:os.Foo {a: 1}\n",
    ],
)
def test_tags_that_build_python_objects_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^c.yaml:1: "):
        load_lined_yaml(text, "c.yaml")


def test_dotted_writes_list_indexes_in_brackets() -> None:
    assert dotted(("models", "gpt-4.1", "targets", 0, "provider")) == (
        "models.gpt-4.1.targets[0].provider"
    )
    assert dotted(()) == "(top level)"


def _laughs(levels: int) -> str:
    """A "billion laughs": each level a list of ten aliases of the level before."""
    lines = ["x:", "  l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    for level in range(1, levels + 1):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(_laughs(9), "aliases expand to more than", id="alias-bomb"),
        pytest.param("a: &a [1, *a]\n", "an alias refers to a block that contains it", id="cycle"),
        pytest.param("x: " + "[" * 150 + "]" * 150 + "\n", "nested more than", id="deep"),
        pytest.param("x: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than", id="deeper"),
    ],
)
def test_hostile_yaml_is_an_error_not_a_crash_or_a_hang(text: str, problem: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^c\.yaml:") as raised:
        load_lined_yaml(text, "c.yaml")
    assert problem in str(raised.value)
    assert time.monotonic() - started < 30  # a hang guard, not a speed target (~2 s here)


def test_aliases_that_copy_a_block_a_few_times_still_load() -> None:
    data = load_lined_yaml(_laughs(3), "c.yaml").data
    assert len(data["x"]["l3"]) == 10 and data["x"]["l3"][9][9][9] == ["ha"] * 10
