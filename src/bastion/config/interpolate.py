"""``${VAR}`` interpolation in the config file's string values (CONTRACT.md §2).

Grammar, inside any string scalar of the file:

* ``${VAR}``          the value of ``VAR``; a load error when ``VAR`` is unset;
* ``${VAR:-default}`` the value of ``VAR``, or ``default`` when it is unset or empty
  (the shell's meaning of ``:-``); the default is literal text without ``}`` or
  ``${`` (no nested references);
* ``$${``             a literal ``${`` (so ``$${HOME}`` stays ``${HOME}``);
* any other ``$`` is kept as it is.

Only values are interpolated, never keys, and the result is not parsed again as YAML:
``port: "${PORT:-8080}"`` yields the string ``"8080"``, which validation turns into
the integer. Errors name the key path and line, never the variable's value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bastion.config.yaml_lines import KeyPath, dotted
from bastion.errors import ConfigError

# `$${` (escape) or `${NAME}` / `${NAME:-default}`; an unclosed `${` is caught separately.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_VARIABLE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


class InterpolationError(ValueError):
    """One string could not be interpolated; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def interpolate_string(text: str, environ: Mapping[str, str]) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in ``text``; ``$${`` escapes ``${``."""
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        expression = match.group(1)
        variable = _VARIABLE.fullmatch(expression)
        if variable is None:
            raise InterpolationError(
                f"invalid reference ${{{expression}}}: expected ${{NAME}} or ${{NAME:-default}}"
            )
        name = variable.group("name")
        default = variable.group("default")
        value = environ.get(name)
        if default is not None:
            if "${" in default:  # the first `}` ends the reference: not what was meant
                raise InterpolationError(
                    f"a default cannot hold another ${{...}} reference (in ${{{expression}}}"
                    "); write one reference per value"
                )
            return value if value else default
        if value is None:
            raise InterpolationError(
                f"environment variable {name} is not set "
                f"(set it, or write ${{{name}:-default}} to give a default)"
            )
        return value

    result = _TOKEN.sub(replace, text)
    # `${` left over means a reference that was never closed.
    if "${" in _TOKEN.sub("", text):
        raise InterpolationError("unclosed ${ (write $${ for a literal ${)")
    return result


def interpolate_tree(
    data: dict[str, Any],
    lines: Mapping[KeyPath, int],
    environ: Mapping[str, str],
    source: str,
) -> dict[str, Any]:
    """Return a copy of ``data`` with every string value interpolated.

    All problems are collected and raised together as one ``ConfigError``, one line
    per value: ``source:line: key.path: reason``.
    """
    problems: list[str] = []

    def walk(value: Any, path: KeyPath) -> Any:
        if isinstance(value, str):
            try:
                return interpolate_string(value, environ)
            except InterpolationError as exc:
                line = _nearest_line(lines, path)
                problems.append(f"{source}:{line}: {dotted(path)}: {exc.reason}")
                return value
        if isinstance(value, dict):
            return {key: walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, (*path, index)) for index, item in enumerate(value)]
        return value

    result = walk(data, ())
    if problems:
        raise ConfigError("\n".join(problems))
    return result  # type: ignore[no-any-return]


def _nearest_line(lines: Mapping[KeyPath, int], path: KeyPath) -> int:
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return 1
