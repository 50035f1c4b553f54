"""The pattern engine: one RE2 set pass, validators on candidates, context scoring."""

from __future__ import annotations

import base64

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
        monkeypatch.setattr(group, "_match_bytes", lambda subject: [])  # the C-level call
    assert spans(engine, "order ORD-123456") == [("custom.order", "123456", 0.75)]


def test_a_failed_context_pass_still_reads_each_window(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pass that finds which context words occur at all may run out of memory too
    monkeypatch.setattr(engine._context, "_match_bytes", lambda subject: [])
    assert sorted(spans(engine, "badge 12345, order ORD-123456")) == [
        ("custom.badge", "12345", 0.85),
        ("custom.order", "123456", 0.75),
    ]


def test_a_context_phrase_split_by_the_value_still_counts() -> None:
    # the window reads the text before and after the value joined by a space
    pattern = Pattern(
        id="test.pin",
        data_class="custom.pin",
        regex=r"\d{5}",
        score=0.7,
        context=("badge number",),
        requires_context=True,
    )
    assert [h.value for h in Engine([pattern]).scan("badge12345number")] == ["12345"]


def test_context_words_match_letters_that_lower_to_them() -> None:
    # "\u212a" (Kelvin sign) lower-cases to "k"; so does the context word's letter
    pattern = Pattern(
        id="test.kit",
        data_class="custom.kit",
        regex=r"\b\d{5}\b",
        context=("kit",),
        requires_context=True,
    )
    assert [h.value for h in Engine([pattern]).scan("\u212aIT 12345")] == ["12345"]


def test_re2_case_folding_holds_every_one_letter_lower_case() -> None:
    # the context pass looks words up with RE2's (?i), the windows with str.lower
    import re2

    pairs = [(chr(code), chr(code).lower()) for code in range(0x110000)]
    lowered = [(char, low) for char, low in pairs if len(low) == 1 and low != char]
    missed = [
        char
        for char, low in lowered
        if re2.compile(f"(?i){re2.escape(low)}").fullmatch(char) is None
    ]
    assert len(lowered) > 1000 and missed == []


def vendor(number: int, regex: str | None = None) -> Pattern:
    """A vendor credential format: a literal prefix, then 24 token characters."""
    return Pattern(
        id=f"test.vendor{number}",
        data_class=f"secret.vendor{number}",
        regex=regex or rf"\b(vk{number}_[A-Za-z0-9]{{24}})\b",
        group=1,
    )


VENDORS = [vendor(n) for n in range(12)]
NO_LITERAL = vendor(99, r"\b([0-9a-f]{40})\b")  # a bare hex token: nothing to prefilter on


def found(engine: Engine, text: str) -> list[tuple[str, str]]:
    return sorted((h.data_class, h.value) for h in engine.scan(text))


def test_vendor_formats_are_found_among_base64_and_logs() -> None:
    engine = Engine([*VENDORS, NO_LITERAL, ORDER])
    blob = base64.encodebytes(bytes(range(256)) * 8).decode()
    token, hexed = "vk3_" + "Ab1" * 8, "0123456789abcdef" * 2 + "01234567"
    text = f"{blob}\nreq=42 token={token} sha={hexed} ORD-123456\n{blob}"
    assert found(engine, text) == [
        ("custom.order", "123456"),
        ("secret.vendor3", token),
        ("secret.vendor99", hexed),
    ]


def test_a_literal_without_the_rest_of_its_format_is_not_a_finding() -> None:
    engine = Engine(VENDORS)
    assert engine.scan("the vk3_ prefix alone, or vk3_short, is no credential") == []


def test_a_file_of_many_vendor_keys_finds_each_one() -> None:
    # more formats present than are searched one by one: a set pass decides instead
    engine = Engine(VENDORS)
    keys = [f"vk{n}_" + f"{n:02d}Xy" * 6 for n in range(12)]
    text = "\n".join(f"KEY_{n}={key}" for n, key in enumerate(keys))
    assert found(engine, text) == sorted((f"secret.vendor{n}", keys[n]) for n in range(12))
    one_by_one = [found(Engine([pattern]), text) for pattern in VENDORS]
    assert found(engine, text) == sorted(hit for hits in one_by_one for hit in hits)
