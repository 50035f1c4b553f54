"""The pattern engine: one RE2 set pass, validators on candidates, context scoring."""

from __future__ import annotations

import pytest

from bastion.detect.engine import Engine, PatternCompileError
from bastion.detect.patterns import ACCEPT, Pattern

ORDER = Pattern(
    id="test.order",
    data_class="custom.order",
    regex=r"\bORD-(\d{6})\b",
    group=1,
    score=0.6,
    validator=lambda v: ACCEPT if v[-1] in "02468" else None,
    context=("order", "ticket"),
)
BADGE = Pattern(
    id="test.badge",
    data_class="custom.badge",
    regex=r"\b\d{5}\b",
    score=0.7,
    context=("badge",),
    requires_context=True,
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine([ORDER, BADGE])


def spans(engine: Engine, text: str) -> list[tuple[str, str, float]]:
    return [(h.data_class, text[h.start : h.end], round(h.score, 2)) for h in engine.scan(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("ref ORD-123456 shipped", [("custom.order", "123456", 0.6)], id="group-span"),
        pytest.param("ref ORD-123457 shipped", [], id="validator-rejects"),
        pytest.param("order ORD-123456", [("custom.order", "123456", 0.75)], id="context-before"),
        pytest.param("ORD-123456 is my ticket", [("custom.order", "123456", 0.75)], id="after"),
        pytest.param("reorder ORD-123456", [("custom.order", "123456", 0.6)], id="not-a-word"),
        pytest.param("badge 12345", [("custom.badge", "12345", 0.85)], id="required-context"),
        pytest.param("zip 12345", [], id="required-context-missing"),
        pytest.param("", [], id="empty"),
    ],
)
def test_engine_table(engine: Engine, text: str, expected: list[tuple[str, str, float]]) -> None:
    assert spans(engine, text) == expected


def test_offsets_are_code_points_in_non_ascii_text(engine: Engine) -> None:
    text = "Bestellung für Jörg — ORD-246802 ✓"
    [hit] = engine.scan(text)
    assert text[hit.start : hit.end] == "246802" and hit.value == "246802"


def test_every_occurrence_is_found(engine: Engine) -> None:
    text = " ".join(f"ORD-{n:06d}" for n in range(0, 40, 2))
    assert len(engine.scan(text)) == 20


@pytest.mark.parametrize(
    "regex", [r"(?=a)b", r"(a)\1", r"(?<!x)y"], ids=["lookahead", "backreference", "lookbehind"]
)
def test_backtracking_constructs_are_refused_at_build(regex: str) -> None:
    with pytest.raises(PatternCompileError, match=r"test\.bad"):
        Engine([Pattern(id="test.bad", data_class="custom.bad", regex=regex)])


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(PatternCompileError, match="duplicate"):
        Engine([ORDER, ORDER])


def test_adversarial_input_completes(engine: Engine) -> None:
    # RE2 is linear: 200 KB of near-matches must neither hang nor blow up
    assert engine.scan("ORD-" * 50_000) == []
    assert len(engine.scan("badge " + "12345 " * 20_000)) >= 1


def test_case_insensitive_patterns() -> None:
    pattern = Pattern(
        id="test.word", data_class="custom.word", regex=r"\bsecretword\b", case_insensitive=True
    )
    assert [h.value for h in Engine([pattern]).scan("a SecretWord here")] == ["SecretWord"]


def test_a_failed_set_match_falls_back_to_every_pattern(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RE2's set answers None when its DFA runs out of memory: that must not mean "clean"
    class Exhausted:
        def Match(self, subject: object) -> None:
            return None

    for group in engine._groups:
        monkeypatch.setattr(group, "_set", Exhausted())
    assert spans(engine, "order ORD-123456") == [("custom.order", "123456", 0.75)]
