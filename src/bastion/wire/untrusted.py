"""Resolving the caller's ``bastion.untrusted`` marks against the strings of a body."""

from __future__ import annotations

from bastion.errors import InvalidRequest
from bastion.wire.extension import UntrustedMark


class UntrustedMarks:
    """Answers which ranges of a message (or part) string are untrusted.

    Every mark must land on a string that exists and fit inside it; ``check_all_used``
    turns a mark that matched nothing into 400 ``invalid_value`` naming it.
    """

    __slots__ = ("_marks", "_used")

    def __init__(self, marks: tuple[UntrustedMark, ...]) -> None:
        self._marks = marks
        self._used = [False] * len(marks)

    def __bool__(self) -> bool:
        return bool(self._marks)

    def ranges(self, message: int, part: int | None, length: int) -> list[tuple[int, int]]:
        """Untrusted ``[start, end)`` ranges of one string (whole string when unranged)."""
        found: list[tuple[int, int]] = []
        for i, mark in enumerate(self._marks):
            if mark.message != message or (mark.part is not None and mark.part != part):
                continue
            if mark.range is None:
                found.append((0, length))
            elif mark.range[1] > length:
                raise _out_of_range(i)
            else:
                found.append(mark.range)
            self._used[i] = True
        return found

    def check_all_used(self) -> None:
        for i, used in enumerate(self._used):
            if not used:
                raise _out_of_range(i)


def _out_of_range(i: int) -> InvalidRequest:
    param = f"bastion.untrusted[{i}]"
    return InvalidRequest(
        f"{param} does not point at a text of this request (message, part or range out of range).",
        param=param,
    )
