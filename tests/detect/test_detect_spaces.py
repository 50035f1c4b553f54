"""Which patterns' values can hold a space (the only ones a seam can split)."""

from __future__ import annotations

import pytest

from bastion.detect.catalog import builtin_patterns
from bastion.detect.engine import Engine
from bastion.detect.patterns import Pattern
from bastion.detect.spaces import may_hold_space


def pattern(regex: str, group: int = 0) -> Pattern:
    return Pattern(id="test", data_class="custom.test", regex=regex, group=group)


@pytest.mark.parametrize(
    ("regex", "group", "holds"),
    [
        pytest.param(r"\bORD-\d{6}\b", 0, False, id="digits-and-literals"),
        pytest.param(r"[A-Za-z0-9/+]{40}", 0, False, id="class-without-space"),
        pytest.param(r"[!-~]+", 0, False, id="range-above-space"),
        pytest.param(r"key\s*=\s*(\w+)", 1, False, id="space-outside-the-group"),
        pytest.param(r"(\S+)", 1, False, id="not-space"),
        pytest.param(r"\d{4} \d{4}", 0, True, id="literal-space"),
        pytest.param(r"\d{4}\s\d{4}", 0, True, id="space-class"),
        pytest.param(r"[ -~]+", 0, True, id="range-with-space"),
        pytest.param(r"a.b", 0, True, id="any"),
        pytest.param(r"[^\"]+", 0, True, id="negated-class"),
        pytest.param(r"[^\s]+", 0, False, id="negated-space"),
        pytest.param(r"\W", 0, True, id="not-word"),
        pytest.param(r"\D", 0, True, id="not-digit"),
        pytest.param(r"x\040y", 0, True, id="octal-space"),
        pytest.param(r"(?:a|b c)", 0, True, id="branch"),
        pytest.param(r"a(?: b){0}", 0, False, id="repeated-never"),
        pytest.param(r"[[:space:]]", 0, True, id="posix-class-read-as-may"),
        pytest.param(r"\x{a0}\d", 0, True, id="re2-only-syntax-read-as-may"),
        pytest.param(r"(\d+)", 2, True, id="missing-group-read-as-may"),
    ],
)
def test_may_hold_space(regex: str, group: int, holds: bool) -> None:
    assert may_hold_space(pattern(regex, group)) is holds


def test_builtin_values_found_with_spaces_are_among_those_that_may_hold_one() -> None:
    spaced = {p.id for p in builtin_patterns() if may_hold_space(p)}
    assert {"pii.credit_card", "pii.phone.national", "secret.pem.private_key"} <= spaced
    assert {"pii.passport", "pii.ip_address.v4"}.isdisjoint(spaced)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(builtin_patterns())


@pytest.mark.parametrize(
    ("text", "at", "crosses"),
    [
        pytest.param("card 4111 1111 1111 1111 ok", 14, True, id="value-across"),
        pytest.param("card 4111 1111 1111 1111 ok", 4, False, id="space-before-value"),
        pytest.param("plain words only here", 5, False, id="prose"),
        pytest.param("card 4111 1111 1111 1111 ok", 6, True, id="not-a-space-read-as-may"),
    ],
)
def test_engine_crosses(engine: Engine, text: str, at: int, crosses: bool) -> None:
    assert engine.crosses(text, at) is crosses
