"""What the docs name exists: every ``bastion`` command and flag, every config key and
its documented default (STYLE.md 18; CONTRACT.md §2, §10)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from bastion.cli.main import cli
from bastion.config import config_json_schema

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "examples").rglob("*.yaml")),
    *sorted(path for path in (ROOT / "deploy").rglob("*") if path.is_file()),
)
# `bastion WORDS` up to the end of a command: a backtick, comment, pipe or separator
_INVOCATION = re.compile(
    r"(?:^|[\s`(;|&])(?:\.venv/bin/|/opt/bastion/bin/)?bastion ([a-z][^`#;|&)\n]*)"
)


def _invocations() -> Iterator[tuple[str, str]]:
    for path in SOURCES:
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        for number, line in enumerate(text.splitlines(), 1):
            for match in _INVOCATION.finditer(line):
                yield f"{path.relative_to(ROOT)}:{number}", match[1]


def _resolve(words: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """The command path the words name, its command, and the words left for it."""
    command: click.Command = cli
    path: list[str] = []
    context = click.Context(cli)
    while isinstance(command, click.Group) and words:
        sub = command.get_command(context, words[0])
        if sub is None:
            break
        command, path, words = sub, [*path, words[0]], words[1:]
    return path, command, words


def _problems(words: list[str]) -> list[str]:
    path, command, rest = _resolve(words)
    if not path:
        return []  # prose: "bastion serving on ...", "bastion simulate listening ..."
    named_group = isinstance(command, click.Group) and rest and rest[0] not in ("…", "...")
    if named_group and not rest[0].startswith("-"):
        return [f"`bastion {' '.join(path)}` has no subcommand {rest[0]!r}"]
    options = {"--help"}
    for param in command.params:
        options.update(param.opts)
        options.update(param.secondary_opts)
    return [
        f"`bastion {' '.join(path)}` has no option {word.split('=')[0]}"
        for word in rest
        if word.startswith("--") and word.split("=")[0] not in options
    ]


INVOCATIONS = list(_invocations())


def test_the_docs_name_bastion_commands() -> None:
    named = {" ".join(_resolve(shlex.split(words, posix=True))[0][:1]) for _, words in INVOCATIONS}
    assert {"serve", "keys", "policy", "audit", "scan"} <= named


@pytest.mark.parametrize(("where", "words"), INVOCATIONS, ids=[w for w, _ in INVOCATIONS])
def test_documented_command_exists_with_its_flags(where: str, words: str) -> None:
    try:
        split = shlex.split(words, posix=True)
    except ValueError:  # an unclosed quote continues in prose
        split = words.split()
    assert not _problems(split), f"{where}: {_problems(split)}"


def test_a_wrong_flag_is_caught() -> None:
    assert _problems(["keys", "create", "--name", "x", "--enviroment", "dev"])
    assert _problems(["policy", "activte", "p.yaml"])
    assert not _problems(["keys", "create", "--name", "x", "--env", "dev"])


# --- docs/configuration.md -> the schema ---------------------------------------------

SCHEMA = config_json_schema()
# Sections whose table rows name keys relative to an entry: where they live.
_RELATIVE = {
    "providers.<name>": ["providers.<name>"],
    "models.<public name>": ["models.<name>"],
    "limits": ["limits.rules", "limits.rules.budgets", "limits.pricing.<name>"],
}


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _objects(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The object schemas a value may be (through refs, unions and list items)."""
    node = _deref(node)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            yield from _objects(option)
    if node.get("type") == "array" and "items" in node:
        yield from _objects(node["items"])
    if "properties" in node or isinstance(node.get("additionalProperties"), dict):
        yield node


def _lookup(node: dict[str, Any], parts: list[str]) -> dict[str, Any] | None:
    """The schema of a dotted key (``<name>`` for an entry of a mapping), if it exists."""
    if not parts:
        return node
    for candidate in _objects(node):
        child = candidate.get("properties", {}).get(parts[0])
        if child is None and parts[0].startswith("<"):
            extra = candidate.get("additionalProperties")
            child = extra if isinstance(extra, dict) else None
        found = None if child is None else _lookup(child, parts[1:])
        if found is not None:
            return found
    return None


def _documented_keys() -> Iterator[tuple[str, str, str | None]]:
    """(section, key, documented default) of each row of the key tables.

    A default given as a value placed somewhere (`limits.db` beside the database) is
    computed at load time, not a schema default: it counts as undocumented here.
    """
    section = ""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        heading = re.match(r"^### `?([^`]*)`?", line)
        if heading:
            section = heading[1]
            continue
        row = re.match(r"^\| `([^`]+)`(?:, `([^`]+)`)? \| (?:`([^`]*)`([^|]*))?", line)
        if row:
            computed = bool(row[4]) and not row[4].strip().startswith(("(", "|")) and row[4].strip()
            for key in filter(None, (row[1], row[2])):
                yield section, key, None if computed else row[3]


DOCUMENTED = list(_documented_keys())


def _schema_of(section: str, key: str) -> dict[str, Any] | None:
    for prefix in ["", *_RELATIVE.get(section, [])]:
        dotted = f"{prefix}.{key}" if prefix else key
        parts = [re.sub(r"^<.*>$", "<name>", part) for part in dotted.split(".")]
        found = _lookup(SCHEMA, parts)
        if found is not None:
            return found
    return None


def test_the_reference_documents_many_keys() -> None:
    assert len(DOCUMENTED) > 100


@pytest.mark.parametrize(
    ("section", "key", "default"), DOCUMENTED, ids=[f"{s}:{k}" for s, k, _ in DOCUMENTED]
)
def test_documented_key_exists_with_its_default(
    section: str, key: str, default: str | None
) -> None:
    schema = _schema_of(section, key)
    assert schema is not None, f"docs/configuration.md documents {key!r}, which the schema lacks"
    if default is None or "default" not in schema:
        return  # computed defaults ("beside the database") and lists are described in prose
    documented = yaml.safe_load(default)
    if isinstance(schema["default"], str):
        documented = default
    assert documented == schema["default"], (
        f"docs/configuration.md says {key} defaults to {default!r}; it is {schema['default']!r}"
    )


def test_a_missing_key_or_wrong_default_is_caught() -> None:
    assert _schema_of("server", "server.prot") is None
    assert _schema_of("limits", "requests_per_hour") is None
    retry = _schema_of("providers.<name>", "retry.max_attempts")
    assert retry is not None and retry["default"] == 3
