"""pii.street_address from the fast entity tier: street lines, boxes, postcodes, prose."""

from __future__ import annotations

import pytest

from bastion.detect.entities import EntityTagger


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()


def addresses(tagger: EntityTagger, text: str) -> list[str]:
    return [
        h.value
        for h in tagger.detect(text)
        if h.data_class == "pii.street_address" and h.score >= 0.5
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Ship it to 742 Evergreen Terrace, Springfield, OR 97403 please.",
            ["742 Evergreen Terrace, Springfield, OR 97403"],
            id="us-full",
        ),
        pytest.param(
            "Our office: 1600 Pennsylvania Ave NW, Washington",
            ["1600 Pennsylvania Ave NW, Washington"],
            id="us-direction",
        ),
        pytest.param(
            "I live at 221B Baker Street, London NW1 6XE.",
            ["221B Baker Street, London NW1 6XE"],
            id="uk-postcode-tail",
        ),
        pytest.param(
            "Deliver to 55 Harbour Road Apt. 4B tomorrow", ["55 Harbour Road Apt. 4B"], id="unit"
        ),
        pytest.param("Hauptstraße 5, 10115 Berlin", ["Hauptstraße 5, 10115 Berlin"], id="german"),
        pytest.param(
            "Rendez-vous au 12 rue de la Paix, 75002 Paris.",
            ["12 rue de la Paix, 75002 Paris"],
            id="french",
        ),
        pytest.param("Write to P.O. Box 4471 for details.", ["P.O. Box 4471"], id="po-box"),
        pytest.param(
            "Send it to PSC 1234, Box 5678\nAPO AE 09021 asap",
            ["PSC 1234, Box 5678\nAPO AE 09021"],
            id="military",
        ),
        pytest.param(
            "Via Garibaldi 14, 10122 Torino", ["Via Garibaldi 14, 10122 Torino"], id="italian"
        ),
        pytest.param(
            "My address is Storgata 17, 0155 Oslo.",
            ["Storgata 17, 0155 Oslo"],
            id="bare-street-with-cue",
        ),
        pytest.param("Postcode: SW1A 1AA", ["SW1A 1AA"], id="uk-postcode-alone"),
        # the probe's digit flags decide which scans run: a typed street whose number
        # opens the text has no digit after a gap; a bare one may follow a tab
        pytest.param("12 rue de la Paix", ["12 rue de la Paix"], id="typed-number-first"),
        pytest.param(
            "221B Baker Street, London", ["221B Baker Street, London"], id="typed-at-start"
        ),
        pytest.param("My address is\tStorgata\t17", ["Storgata\t17"], id="bare-street-after-tabs"),
    ],
)
def test_addresses_are_found(tagger: EntityTagger, text: str, expected: list[str]) -> None:
    assert addresses(tagger, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("I have 3 more items on the way.", id="prose-with-suffix-word"),
        pytest.param("It is a 2 hours drive from here.", id="drive"),
        pytest.param("In 2019 Apple Park opened its doors.", id="year-then-park"),
        pytest.param("Upgrade to Windows 10 and Python 3 first.", id="product-versions"),
        pytest.param("See Article 50 and Chapter 7 of the treaty.", id="document-sections"),
        pytest.param("| W 24 | L 13 | W 7 |", id="score-table"),
        pytest.param("Order 12345 ships on 3 March 2024.", id="order-and-date"),
    ],
)
def test_hard_negatives(tagger: EntityTagger, text: str) -> None:
    assert addresses(tagger, text) == []


def test_address_swallows_the_town_inside_it(tagger: EntityTagger) -> None:
    hits = tagger.detect("Please ship to 10 Downing Street, London SW1A 2AA.")
    assert [(h.data_class, h.value) for h in hits] == [
        ("pii.street_address", "10 Downing Street, London SW1A 2AA")
    ]
