"""Which patterns can find a value holding a space: the only ones a seam can split.

Two messages are read across their seam joined by one space (``DetectorInspector``); a
value found there that crosses the seam holds that space. A pattern whose value (its
``group``) can never hold a space therefore never finds one, and a seam needs a search
only for the others.

The answer is read from the regex's syntax tree as Python's own parser builds it (RE2's
syntax is close to Python's); whatever that parser reads differently or not at all
(``\\p{..}``, ``\\x{..}``, POSIX classes, anything unknown) counts as holding a space,
so a wrong answer is only ever "may hold one".
"""

from __future__ import annotations

import importlib
import re
import warnings
from typing import Any

from bastion.detect.patterns import Pattern

_SPACE = ord(" ")
_POSIX_CLASS = re.compile(r"\[:\^?[a-z]+:\]")  # RE2 reads [[:space:]], Python does not
_parser: Any = importlib.import_module("re._parser")  # no stubs: its tree is untyped tuples
_SPACE_CATEGORIES = {
    _parser.CATEGORY_SPACE: True,
    _parser.CATEGORY_NOT_SPACE: False,
    _parser.CATEGORY_DIGIT: False,
    _parser.CATEGORY_NOT_DIGIT: True,
    _parser.CATEGORY_WORD: False,
    _parser.CATEGORY_NOT_WORD: True,
}


def may_hold_space(pattern: Pattern) -> bool:
    """Whether a value ``pattern`` finds (its ``group``) could contain a space."""
    if _POSIX_CLASS.search(pattern.regex):
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. "possible nested set": read differently
            tree = _parser.parse(pattern.regex)
    except (re.error, Warning, RecursionError):  # RE2-only syntax such as \x{a0}
        return True
    items = tree if pattern.group == 0 else _group(tree, pattern.group)
    return items is None or _matches_space(items)


def _group(items: Any, number: int) -> Any:
    """The subtree of capture group ``number``, or None when it is not found."""
    for op, av in items:
        if op is _parser.SUBPATTERN:
            if av[0] == number:
                return av[3]
            found = _group(av[3], number)
        elif op is _parser.BRANCH:
            found = next((f for b in av[1] if (f := _group(b, number)) is not None), None)
        elif op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT):
            found = _group(av[2], number)
        else:
            found = None
        if found is not None:
            return found
    return None


def _matches_space(items: Any) -> bool:
    """Whether any node of ``items`` could read a space (unknown nodes: yes)."""
    for op, av in items:
        if op is _parser.AT:  # anchors and word boundaries read no character
            continue
        if op is _parser.LITERAL:
            if av == _SPACE:
                return True
        elif op is _parser.NOT_LITERAL or op is _parser.ANY:
            if op is _parser.ANY or av != _SPACE:
                return True
        elif op is _parser.IN:
            if _class_matches_space(av):
                return True
        elif op is _parser.SUBPATTERN:
            if _matches_space(av[3]):
                return True
        elif op is _parser.BRANCH:
            if any(_matches_space(branch) for branch in av[1]):
                return True
        elif op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT):
            if av[1] > 0 and _matches_space(av[2]):
                return True
        else:
            return True
    return False


def _class_matches_space(members: Any) -> bool:
    negated = False
    verdicts: list[bool | None] = []  # per member: reads a space, does not, or unknown
    for op, av in members:
        if op is _parser.NEGATE:
            negated = True
        elif op is _parser.LITERAL:
            verdicts.append(av == _SPACE)
        elif op is _parser.RANGE:
            verdicts.append(av[0] <= _SPACE <= av[1])
        elif op is _parser.CATEGORY:
            verdicts.append(_SPACE_CATEGORIES.get(av))
        else:
            verdicts.append(None)
    if negated:  # reads a space unless a member surely does
        return True not in verdicts
    return any(verdict is not False for verdict in verdicts)
