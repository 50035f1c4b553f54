"""Read a YAML document safely, keeping the line of every key and list item.

``yaml.safe_load`` throws away positions and silently keeps the last of two equal
keys. The config loader needs both: error messages name ``file:line``, and a
duplicated key is almost always a mistake (two ``port:`` lines, the second one
quietly winning). So the document is composed into nodes with the safe loader and
turned into plain Python values here, recording for each key path the 1-based line
where it appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from bastion.errors import ConfigError

KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_DEPTH = 100
"""Deepest nesting of mappings and lists (a policy or config needs fewer than 10)."""
MAX_ALIAS_NODES = 100_000
"""Most nodes built again through aliases: ``&a`` / ``*a`` may copy a block, but ten
aliases of ten aliases ... (a "billion laughs" of a few hundred bytes) would build
billions of values."""
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


@dataclass(frozen=True, slots=True)
class LinedDocument:
    """A parsed YAML mapping plus the line (1-based) of each key path in it."""

    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)


def dotted(path: KeyPath) -> str:
    """A key path written the way users write it: ``models.gpt-4o.targets[0].provider``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def load_lined_yaml(
    text: str, source: str, *, sections: str = "server:, storage:, providers:, ..."
) -> LinedDocument:
    """Parse ``text`` (the file named ``source``) into a mapping with key lines;
    ``sections`` names the top-level keys the file should have, for the error when
    its top level is not a mapping.

    Raises ``ConfigError`` for YAML syntax errors, duplicate keys, non-string keys,
    a top level that is not a mapping, nesting deeper than ``MAX_DEPTH``, an alias
    inside the block it names and aliases that expand past ``MAX_ALIAS_NODES``; every
    message starts with ``source:line`` (or ``source:`` alone).
    """
    try:
        loader = yaml.SafeLoader(text)  # refuses non-printable characters up front
    except yaml.reader.ReaderError as exc:
        at = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            f"{source}:{at}: invalid YAML: character #x{exc.character:04x} is not allowed"
        ) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return LinedDocument(data={}, lines={(): 1})
        builder = _Builder(loader, source)
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        reason = exc.problem or exc.context or "invalid YAML"
        context = exc.context_mark
        if exc.problem and exc.context and context is not None and context is not mark:
            reason += f" ({exc.context} started on line {context.line + 1})"
        raise ConfigError(f"{source}{line}: invalid YAML: {reason}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc
    except RecursionError:  # PyYAML's composer recurses once per level
        raise ConfigError(
            f"{source}: invalid YAML: nested more than {MAX_DEPTH} levels deep"
        ) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:{root.start_mark.line + 1}: the top level must be a mapping of "
            f"sections ({sections}), found {_kind(root)}"
        )
    builder.lines[()] = 1
    return LinedDocument(data=data, lines=builder.lines)


class _Builder:
    """Turns composed YAML nodes into Python values, recording key lines."""

    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self._loader = loader
        self._source = source
        self.lines: dict[KeyPath, int] = {}
        self._built: set[int] = set()  # ids of the nodes built once
        self._open: set[int] = set()  # ids of the collections being built
        self._repeats = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self._count(node, path)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
            raise ConfigError(
                f"{self._source}:{node.start_mark.line + 1}: {dotted(path)}: "
                f"unsupported YAML tag {node.tag}"
            )
        if isinstance(node, yaml.ScalarNode):
            return self._loader.construct_object(node, deep=True)
        if id(node) in self._open:
            self._fail(node, path, "an alias refers to a block that contains it")
        if len(path) >= MAX_DEPTH:
            self._fail(node, path, f"nested more than {MAX_DEPTH} levels deep")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, index)))
            return items
        finally:
            self._open.discard(id(node))

    def _count(self, node: yaml.Node, path: KeyPath) -> None:
        if id(node) not in self._built:
            self._built.add(id(node))
            return
        self._repeats += 1
        if self._repeats > MAX_ALIAS_NODES:
            self._fail(node, path, f"aliases expand to more than {MAX_ALIAS_NODES} values")

    def _fail(self, node: yaml.Node, path: KeyPath, problem: str) -> NoReturn:
        raise ConfigError(f"{self._source}:{node.start_mark.line + 1}: {dotted(path)}: {problem}")

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        self._reject_duplicates(node, path)
        self._loader.flatten_mapping(node)  # applies YAML merge keys (<<: *anchor)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    f"{self._source}:{line}: {dotted(path)}: keys must be plain names"
                )
            # The key as written: YAML 1.1 would turn `yes:` into True and `08:` into 8.
            key = str(key_node.value)
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _reject_duplicates(self, node: yaml.MappingNode, path: KeyPath) -> None:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise ConfigError(
                    f"{self._source}:{line}: {dotted((*path, key))}: duplicate key "
                    f"(first defined on line {first_line[key]})"
                )
            first_line[key] = line


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "a single value"
