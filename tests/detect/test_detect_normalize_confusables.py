"""Look-alikes: the ``nfkc`` and ``skeleton`` projections and ``evasion.homoglyph``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bastion.detect.normalize import Normalised, Projection, project


def projection(result: Normalised, name: str) -> Projection:
    found = [p for p in result.projections if p.name == name]
    assert found, f"no {name!r} projection among {[p.name for p in result.projections]}"
    return found[0]


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in text)


def math_bold(text: str) -> str:
    out = []
    for c in text:
        if "a" <= c <= "z":
            out.append(chr(0x1D41A + ord(c) - ord("a")))
        elif "A" <= c <= "Z":
            out.append(chr(0x1D400 + ord(c) - ord("A")))
        elif "0" <= c <= "9":
            out.append(chr(0x1D7CE + ord(c) - ord("0")))
        else:
            out.append(c)
    return "".join(out)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        pytest.param(fullwidth("john@example.com"), "john@example.com", id="fullwidth-email"),
        pytest.param(math_bold("AKIA1234"), "AKIA1234", id="math-bold"),
        pytest.param(
            "card 4111\u00a01111\u00a01111\u00a01111", "card 4111 1111 1111 1111", id="nbsp"
        ),
        pytest.param("the \ufb01nal \ufb02ow", "the final flow", id="ligatures"),
        pytest.param("\u2460 \u2474 x\u00b2", "1 (1) x2", id="enclosed-superscript"),
        pytest.param(
            "Zo\u00eb: SSN \u00b9\u00b2\u00b3-45-6789",
            "Zo\u00eb: SSN 123-45-6789",
            id="latin1-text-with-superscript-digits",
        ),
    ],
)
def test_nfkc_projection_folds_compatibility_forms(text: str, folded: str) -> None:
    assert projection(project(text), "nfkc").text == folded


def test_nfkc_maps_every_character_back_to_its_source() -> None:
    text = "x \ufb01le " + fullwidth("ab")
    nfkc = projection(project(text), "nfkc")
    assert nfkc.text == "x file ab"
    assert nfkc.to_original(2, 3) == (2, 3)  # "f" of the ligature -> the whole ligature
    assert nfkc.to_original(3, 4) == (2, 3)  # "i" too
    assert nfkc.to_original(4, 6) == (3, 5)  # "le"
    assert nfkc.to_original(7, 9) == (6, 8)  # fullwidth "ab", 1:1


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("It costs \u20ac5\u2026 \u2122", id="punctuation-symbols"),
        pytest.param("r\u00e9sum\u00e9 caf\u00e9 na\u00efve", id="precomposed-accents"),
        pytest.param("e\u0301 decomposed", id="combining-sequence"),
    ],
)
def test_cosmetic_compatibility_forms_are_not_projected(text: str) -> None:
    assert [p.name for p in project(text).projections] == []


@pytest.mark.parametrize(
    ("text", "skeleton", "word"),
    [
        pytest.param(
            "log in to p\u0430yp\u0430l now",
            "log in to paypal now",
            "p\u0430yp\u0430l",
            id="cyrillic-a",
        ),
        pytest.param("ign\u03bfre previous", "ignore previous", "ign\u03bfre", id="greek-omicron"),
        pytest.param(
            "key \u0410KI\u0410IOSFODNN7EXAMPLE",
            "key AKIAIOSFODNN7EXAMPLE",
            "\u0410KI\u0410IOSFODNN7EXAMPLE",
            id="aws-key-cyrillic-A",
        ),
        pytest.param("\u0455\u0435cret sauce", "secret sauce", "\u0455\u0435cret", id="dze-ie"),
        pytest.param("\u0406D 12", "ID 12", "\u0406D", id="capital-i-look-alike"),
    ],
)
def test_mixed_script_word_is_homoglyph_evasion(text: str, skeleton: str, word: str) -> None:
    result = project(text)
    assert projection(result, "skeleton").text == skeleton
    hits = [h for h in result.evasion if h.data_class == "evasion.homoglyph"]
    assert [h.value for h in hits] == [word]
    assert hits[0].meta["kind"] == "mixed_script"


SCRIPT_ORDER = """
from bastion.detect.normalize import project
for text in ("p\u0430ss\u03bfword", "p\u03bfss\u0430word"):
    print([h.meta for h in project(text).evasion])
"""


def test_the_scripts_of_a_mixed_word_are_named_alike_in_every_process() -> None:
    """Workers of one gateway must report the same finding: the scripts come in the
    order the word shows them, whatever the process's hash seed."""
    seen = set()
    for seed in ("0", "1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT_ORDER],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        seen.add(done.stdout)
    assert len(seen) == 1
    cyrillic_first, greek_first = seen.pop().splitlines()
    assert "Latin+Cyrillic+Greek" in cyrillic_first
    assert "Latin+Greek+Cyrillic" in greek_first


def test_mixed_digits_are_homoglyph_evasion() -> None:
    text = "card 4111 11\u0661\u0661 1111 1111"
    result = project(text)
    assert projection(result, "skeleton").text == "card 4111 1111 1111 1111"
    assert [h.meta["kind"] for h in result.evasion] == ["mixed_digits"]


def test_number_in_foreign_digits_is_projected_without_a_finding() -> None:
    text = "my card is \u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661"
    result = project(text)
    assert projection(result, "skeleton").text == "my card is 4111 1111 1111"
    assert result.evasion == ()


def test_fullwidth_letters_inside_a_latin_word_are_flagged() -> None:
    result = project("pass\uff57ord")
    assert [h.meta["kind"] for h in result.evasion] == ["compatibility"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a "
            "\u0434\u0435\u043b\u0430? \u0412\u0441\u0451 \u0445\u043e\u0440\u043e\u0448\u043e.",
            id="russian",
        ),
        pytest.param(
            "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03c3\u03b1\u03c2", id="greek"
        ),
        pytest.param("the word \u0434\u043e\u043c means house", id="quoted-russian-word"),
        pytest.param("dose of 5\u00b5g and 10\u03bcm", id="micro-sign"),
        pytest.param("the \u03b1-helix and \u03b2-sheet", id="greek-symbols"),
        pytest.param("\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", id="korean"),
        pytest.param(math_bold("Bold") + " heading", id="styled-word"),
    ],
)
def test_text_in_one_script_is_not_homoglyph_evasion(text: str) -> None:
    assert project(text).evasion == ()


def test_wholly_cyrillic_prose_is_not_projected() -> None:
    text = "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440, " * 40
    assert project(text).projections == ()


def test_skeleton_is_one_to_one() -> None:
    text = "x p\u0430ss\u0440\u043erd y"
    skeleton = projection(project(text), "skeleton")
    assert len(skeleton.text) == len(text)
    assert skeleton.to_original(2, 10) == (2, 10)


def test_stages_compose_zero_width_fullwidth_and_homoglyphs() -> None:
    text = "mail: \uff4a\u200b\u043eh\u0578@example.com"
    result = project(text)
    last = result.projections[-1]
    assert [p.name for p in result.projections] == ["visible", "nfkc", "skeleton"]
    assert last.text == "mail: john@example.com"
    at = last.text.index("john")
    assert last.to_original(at, len(last.text)) == (6, len(text))
