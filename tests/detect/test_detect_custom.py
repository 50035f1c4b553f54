"""Custom classes from config: regex with checksum, exact terms, dictionary files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config.schema import CustomClassConfig, DetectorsConfig
from bastion.detect.custom import CustomClass, TermMatcher, read_dictionary
from bastion.detect.engine import Engine
from bastion.errors import ConfigError


def found(matcher: TermMatcher, text: str) -> list[tuple[str, str]]:
    return [(h.data_class, text[h.start : h.end]) for h in matcher.detect(text)]


def test_terms_match_whole_words_case_insensitively() -> None:
    matcher = TermMatcher([CustomClass("project", terms=("Blue Falcon", "orion"))])
    text = "Status of blue falcon and ORION; not orionids or xblue falcon."
    assert found(matcher, text) == [
        ("custom.project", "blue falcon"),
        ("custom.project", "ORION"),
    ]


@pytest.mark.parametrize(
    "blanks",
    [
        pytest.param("\n", id="line-break"),
        pytest.param("  ", id="two-spaces"),
        pytest.param("\u00a0", id="nbsp"),
        pytest.param(" \n\t", id="mixed"),
    ],
)
def test_multi_word_terms_match_across_any_blanks(blanks: str) -> None:
    """A pasted e-mail wraps a customer's name across lines; a web page joins it with NBSP."""
    matcher = TermMatcher([CustomClass("customer", terms=("Acme  Holdings Ltd", "orion"))])
    name = f"Acme{blanks}Holdings{blanks}Ltd"
    text = f"Renewal  for {name}\n\nand  ORION."
    assert found(matcher, text) == [("custom.customer", name), ("custom.customer", "ORION")]


def test_a_term_listed_by_two_classes_is_found_as_both() -> None:
    matcher = TermMatcher(
        [CustomClass("vip", terms=("Orion",)), CustomClass("customer", terms=("orion", "vega"))]
    )
    assert sorted(found(matcher, "Orion and Vega")) == [
        ("custom.customer", "Orion"),
        ("custom.customer", "Vega"),
        ("custom.vip", "Orion"),
    ]


def test_case_sensitive_terms() -> None:
    matcher = TermMatcher([CustomClass("code", terms=("ACME-7",), case_sensitive=True)])
    assert found(matcher, "acme-7 vs ACME-7") == [("custom.code", "ACME-7")]


def test_offsets_survive_text_whose_lowercase_changes_length() -> None:
    matcher = TermMatcher([CustomClass("project", terms=("orion",))])
    text = "İstanbul team: ORION"  # "İ".lower() is two code points
    assert found(matcher, text) == [("custom.project", "ORION")]


def test_hundred_thousand_terms(tmp_path: Path) -> None:
    dictionary = tmp_path / "customers.txt"
    dictionary.write_text(
        "# customer names\n\n" + "\n".join(f"customer{n:06d}" for n in range(100_000)),
        encoding="utf-8",
    )
    terms = read_dictionary(dictionary)
    assert len(terms) == 100_000
    matcher = TermMatcher([CustomClass("customer", terms=terms)])
    text = "tickets for customer004242 and customer099999, not customer1234567"
    assert [t for _, t in found(matcher, text)] == ["customer004242", "customer099999"]


def test_unreadable_dictionary_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read dictionary"):
        read_dictionary(tmp_path / "missing.txt")


def test_regex_class_with_luhn_validator() -> None:
    account = CustomClass("account", regex=r"\bACC\d{8}\b", validator="luhn")
    pattern = account.pattern()
    assert pattern is not None
    hits = Engine([pattern]).scan("ACC00000000 ACC12345674 ACC12345675")
    luhn_valid = [h.value for h in hits]
    assert "ACC12345674" in luhn_valid and "ACC12345675" not in luhn_valid


def test_config_requires_a_source_and_sane_names() -> None:
    with pytest.raises(ValueError, match="needs regex, terms or dictionary"):
        CustomClassConfig()
    with pytest.raises(ValueError, match="lower-case"):
        DetectorsConfig(custom={"Bad-Name": CustomClassConfig(terms=["x"])})


@pytest.mark.parametrize("regex", [r"(?<=id:)\d+", r"(a)\1", r"CUS-[0-9"])
def test_a_regex_re2_cannot_compile_is_a_config_error(regex: str) -> None:
    """Refused at load with what to do instead, never a traceback when the scanner is
    built (``bastion scan --config``, ``serve``) after ``config validate`` said ok."""
    with pytest.raises(ValueError, match="not an RE2 pattern"):
        CustomClassConfig(regex=regex)
