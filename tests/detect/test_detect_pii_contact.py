"""``pii.email`` and ``pii.phone``: positives, near-misses and context cases."""

from __future__ import annotations

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.pii import pii_patterns
from bastion.detect.scanner import Scanner

REPORTED = 0.5  # the scanner's default class threshold
NBSP = "\u00a0"
NNBSP = "\u202f"
THIN = "\u2009"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(pii_patterns())


@pytest.fixture(scope="module")
def scanner(engine: Engine) -> Scanner:
    """What a user sees: nested readings of one number resolved to the strongest."""
    return Scanner(engine, normalise=False)


def found(scanner: Scanner, text: str, data_class: str) -> list[str]:
    """The values the scanner reports for ``data_class``, in text order."""
    return [
        text[h.start : h.end] for h in scanner.scan(text).findings if h.data_class == data_class
    ]


def reported(engine: Engine, text: str, data_class: str) -> list[Hit]:
    return [h for h in engine.scan(text) if h.data_class == data_class and h.score >= REPORTED]


def values(engine: Engine, text: str, data_class: str) -> set[str]:
    return {h.value for h in reported(engine, text, data_class)}


def strongest(engine: Engine, text: str, data_class: str) -> Hit:
    """The one reported value: rows of one class may report the same or nested spans
    (a phone with and without its last group); like the scanner, keep the strongest,
    then the longest, and check that every other hit is a reading of the same value."""
    hits = reported(engine, text, data_class)
    assert hits
    best = min(hits, key=lambda h: (-h.score, -(h.end - h.start)))
    assert all(h.start < best.end and best.start < h.end for h in hits), hits
    return best


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("write to jane.roe@example.org today", {"jane.roe@example.org"}, id="plain"),
        pytest.param("cc: a_b+tag@mail.sub.example.co.uk.", {"a_b+tag@mail.sub.example.co.uk"},
                     id="plus-tag-subdomains-trailing-dot"),
        pytest.param("<mailto:ops-team@example.io>", {"ops-team@example.io"}, id="mailto"),
        pytest.param("two: x@example.com,y@example.net", {"x@example.com", "y@example.net"},
                     id="comma-separated"),
        pytest.param("mail zoë.müller@exämple.de now", {"zoë.müller@exämple.de"},
                     id="internationalised-letters"),
        pytest.param("пишите: имя@пример.рф.", {"имя@пример.рф"}, id="cyrillic-idn-tld"),
        pytest.param("ann@例子.中国 or bo@xn--fsqu00a.xn--fiqs8s", {"ann@例子.中国",
                     "bo@xn--fsqu00a.xn--fiqs8s"}, id="cjk-and-punycode"),
        # near-misses
        pytest.param("icon@2x.png and logo@3x.webp", set(), id="retina-asset-names"),
        pytest.param("user@localhost has no domain", set(), id="no-tld"),
        pytest.param("a..b@example.com", set(), id="double-dot-local-part"),
        pytest.param("@decorator and foo@ bar", set(), id="bare-at-signs"),
        pytest.param("see -x@-bad-.com", set(), id="hyphen-edged-label"),
        pytest.param("Größe@2x.png", set(), id="non-ascii-asset-name"),
        pytest.param("git clone git@github.com:acme/api.git", set(), id="ssh-git-remote"),
        pytest.param("remote: git@gitlab.example.com:team/app.git", set(), id="ssh-own-host"),
    ],
)  # fmt: skip
def test_email(engine: Engine, text: str, expected: set[str]) -> None:
    assert values(engine, text, "pii.email") == expected


@pytest.mark.parametrize(
    ("text", "expected", "country"),
    [
        # international: +CC, 00CC, (+CC), trunk in brackets, NBSP, extension
        pytest.param("reach me on +44 20 7946 0958.", "+44 20 7946 0958", "GB", id="intl-gb"),
        pytest.param("Tel +49 (0)30 901820", "+49 (0)30 901820", "DE", id="intl-trunk-in-brackets"),
        pytest.param("dial 0033 1 42 68 53 00", "0033 1 42 68 53 00", "FR", id="intl-00-prefix"),
        pytest.param("(+358) 40 123 4567", "(+358) 40 123 4567", "FI", id="intl-bracketed-plus"),
        pytest.param(f"+1{NBSP}416{NBSP}555{NBSP}0199", f"+1{NBSP}416{NBSP}555{NBSP}0199", "CA",
                     id="intl-nbsp"),
        pytest.param("+1-202-555-0143x77 ok", "+1-202-555-0143x77", "US", id="intl-extension"),
        pytest.param("+91 98765 43210", "+91 98765 43210", "IN", id="intl-india"),
        pytest.param("+44\u201320\u20137946\u20130958", "+44\u201320\u20137946\u20130958", "GB",
                     id="intl-en-dashes"),
        pytest.param("call 415\u2011555\u20110132", "415\u2011555\u20110132", "US",
                     id="nanp-non-breaking-hyphens"),
        # blanks the row allows between groups: French typography's narrow no-break
        # space, thin spaces, tabs (phonenumbers' own parser refuses these)
        pytest.param(f"bureau +33{NNBSP}1{NNBSP}42{NNBSP}68{NNBSP}53{NNBSP}00",
                     f"+33{NNBSP}1{NNBSP}42{NNBSP}68{NNBSP}53{NNBSP}00", "FR",
                     id="intl-narrow-nbsp"),
        pytest.param(f"+44{THIN}20{THIN}7946{THIN}0958", f"+44{THIN}20{THIN}7946{THIN}0958",
                     "GB", id="intl-thin-space"),
        pytest.param("ask 0041\t44\t668\t18\t00", "0041\t44\t668\t18\t00", "CH",
                     id="intl-00-tabs"),
        # calling codes shared by several regions: the region whose plan the number fits
        pytest.param("+1 268 464 1234", "+1 268 464 1234", "AG", id="intl-caribbean"),
        pytest.param("+44 1481 256789", "+44 1481 256789", "GG", id="intl-guernsey"),
        pytest.param("+7 701 123 4567", "+7 701 123 4567", "KZ", id="intl-kazakhstan"),
        pytest.param("+800 1234 5678", "+800 1234 5678", None, id="intl-non-geographic"),
        # North American
        pytest.param("call (415) 555-2671 now", "(415) 555-2671", "US", id="nanp-brackets"),
        pytest.param("fax 415.555.2671", "415.555.2671", "US", id="nanp-dots"),
        pytest.param("1-800-555-0199 toll free", "1-800-555-0199", "US", id="nanp-leading-1"),
        pytest.param("809-555-0123", "809-555-0123", "DO", id="nanp-dominican"),
        pytest.param("(555) 555-0199", "(555) 555-0199", None, id="nanp-no-such-area-code"),
        # national formats
        pytest.param("bureau 01 42 68 53 00", "01 42 68 53 00", None, id="national-fr-pairs"),
        pytest.param("Büro 030 901820", "030 901820", None, id="national-de"),
        pytest.param("(02) 9374 4000 Sydney", "(02) 9374 4000", None, id="national-au-brackets"),
        pytest.param("mobile 07700 900 982", "07700 900 982", None, id="national-gb-mobile"),
        pytest.param("(0406)-812415", "(0406)-812415", None, id="national-bracket-dash"),
    ],
)  # fmt: skip
def test_phone_positives(engine: Engine, text: str, expected: str, country: str | None) -> None:
    hit = strongest(engine, text, "pii.phone")
    assert hit.value == expected
    assert hit.meta.get("country") == country


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("released 2023-10-05 at noon", id="iso-date"),
        pytest.param("released 2023\u201310\u201305 at noon", id="iso-date-en-dashes"),
        pytest.param(
            "in 2019\u20132020, pages 3\u20135, 1990\u20132000\u20132010", id="en-dash-ranges"
        ),
        pytest.param("on 12.04.1990 we met", id="dotted-date"),
        pytest.param("server 192.168.100.200 is up", id="ipv4"),
        pytest.param("ISBN 978-3-16-148410-0", id="isbn"),
        pytest.param("build 10.0.19045.3803", id="version"),
        pytest.param("uuid 550e8400-e29b-41d4-a716-446655440000", id="uuid"),
        pytest.param("id 12345678901234567890", id="long-digit-run"),
        pytest.param("ZIP 01202-1308 and CEP 06460-040", id="postcodes"),
        pytest.param("1-2-3-4-5-6-7-8", id="single-digit-groups"),
        pytest.param("order 4829173822", id="bare-digits-without-context"),
        pytest.param("card 4111 1111 1111 1111", id="card-is-not-a-phone"),
        pytest.param("SSN 123-45-6789", id="ssn-shape"),
        pytest.param("0012345678", id="bare-00-run"),
    ],
)
def test_phone_near_misses(engine: Engine, text: str) -> None:
    assert reported(engine, text, "pii.phone") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Phone:\n467 3395", {"467 3395"}, id="short-local-after-label"),
        pytest.param("Mobile: 60-56-85-91", {"60-56-85-91"}, id="dashed-pairs"),
        pytest.param("can someone call me on 9472 7916", {"9472 7916"}, id="call-me-on"),
        pytest.param("Fax: 4155552671", {"4155552671"}, id="bare-ten-digits"),
        pytest.param("999 1234 office", {"999 1234"}, id="context-after"),
        pytest.param("saw 467 3395 items", set(), id="same-digits-no-context"),
        pytest.param("Phone: 2023", set(), id="too-short"),
        pytest.param("Phone: 1111111", set(), id="filler"),
    ],
)
def test_phone_needs_context_for_loose_groups(
    engine: Engine, text: str, expected: set[str]
) -> None:
    assert values(engine, text, "pii.phone") == expected


def test_context_raises_phone_score(engine: Engine) -> None:
    bare = strongest(engine, "+44 20 7946 0958", "pii.phone")
    near = strongest(engine, "phone: +44 20 7946 0958", "pii.phone")
    assert near.score > bare.score


def test_two_numbers_one_blank_apart_are_both_found(engine: Engine) -> None:
    text = "Tel: +44 20 7946 0958 +33 1 42 68 53 00"
    assert values(engine, text, "pii.phone") == {"+44 20 7946 0958", "+33 1 42 68 53 00"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("call +44 20 7946 0958 5 times", ["+44 20 7946 0958"], id="intl-then-count"),
        pytest.param("+1 415 555 2671 24/7", ["+1 415 555 2671"], id="intl-then-24-7"),
        pytest.param("+33 1 42 68 53 00 12/05/2024", ["+33 1 42 68 53 00"],
                     id="intl-then-date"),
        pytest.param("0044 20 7946 0958 2 lines", ["0044 20 7946 0958"], id="intl-00-then-count"),
        pytest.param("ring 020 7946 0958 12 times", ["020 7946 0958"],
                     id="national-then-count"),
        pytest.param("(415) 555-2671 2 times", ["(415) 555-2671"], id="nanp-then-count"),
        pytest.param("+44 20 7946 0958\n030 901820", ["+44 20 7946 0958", "030 901820"],
                     id="next-line"),
        pytest.param("+44 20 7946 0958 or +33 1 42 68 53 00",
                     ["+44 20 7946 0958", "+33 1 42 68 53 00"], id="list-with-or"),
        # the longer reading wins when both are valid numbers
        pytest.param("+49 30 901820 12", ["+49 30 901820 12"], id="both-readings-valid"),
    ],
)  # fmt: skip
def test_phone_followed_by_numbers(scanner: Scanner, text: str, expected: list[str]) -> None:
    assert found(scanner, text, "pii.phone") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("tel+44 20 7946 0958", ["+44 20 7946 0958"], id="plus-after-letters"),
        pytest.param("tel:+442079460958", ["+442079460958"], id="colon"),
        pytest.param("phone(+44 20 7946 0958)", ["+44 20 7946 0958"], id="bracketed-plus"),
        pytest.param("(020 7946 0958)", ["020 7946 0958"], id="bracketed-national"),
        pytest.param("phone#020 7946 0958", ["020 7946 0958"], id="hash"),
        pytest.param("call=+1 415 555 2671", ["+1 415 555 2671"], id="equals"),
        pytest.param("Tel.:/020 7946 0958", ["020 7946 0958"], id="slash-after-punctuation"),
        pytest.param("tel:020 7946 0958", ["020 7946 0958"], id="colon-national"),
        pytest.param("a1+44 20 7946 0958", [], id="plus-after-a-digit"),
        pytest.param("at 09:05 0123 456", [], id="after-a-time"),
        pytest.param("ref INV02079460958", [], id="national-after-letters-is-an-id"),
        pytest.param("see /items/02079460958", [], id="url-path"),
        pytest.param("on 12/02079460958", [], id="after-a-date-slash"),
    ],
)
def test_phone_glued_to_text(scanner: Scanner, text: str, expected: list[str]) -> None:
    assert found(scanner, text, "pii.phone") == expected
