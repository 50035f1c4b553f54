"""pii.location from the fast entity tier: places, common-word towns, near-misses."""

from __future__ import annotations

import pytest

from bastion.detect.entities import EntityTagger


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()


def places(tagger: EntityTagger, text: str) -> list[str]:
    return [
        h.value for h in tagger.detect(text) if h.data_class == "pii.location" and h.score >= 0.5
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("I will be travelling to Canada next month.", ["Canada"], id="country"),
        pytest.param(
            "She grew up in Rio de Janeiro.", ["Rio de Janeiro"], id="multi-word-particle"
        ),
        pytest.param("Our team in New York is hiring.", ["New York"], id="multi-word-common-word"),
        pytest.param(
            "The office moved from Toronto to Vancouver.", ["Toronto", "Vancouver"], id="two-cities"
        ),
        pytest.param("Shipping to Texas takes two days.", ["Texas"], id="us-state"),
        pytest.param("We have a warehouse in München.", ["München"], id="endonym"),
        pytest.param("Flights to São Paulo are cheap.", ["São Paulo"], id="accented"),
        pytest.param("Flights to Sao Paulo are cheap.", ["Sao Paulo"], id="accent-folded"),
    ],
)
def test_places_are_found(tagger: EntityTagger, text: str, expected: list[str]) -> None:
    assert places(tagger, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Last year we moved to Reading for work.", ["Reading"], id="common-word-after-cue"
        ),
        pytest.param(
            "The conference is in Nice, France.",
            ["Nice", "France"],
            id="common-word-before-country",
        ),
        pytest.param("He retired to Bath in 2010.", ["Bath"], id="bath"),
    ],
)
def test_common_word_towns_need_a_place_context(
    tagger: EntityTagger, text: str, expected: list[str]
) -> None:
    assert places(tagger, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Reading the logs, I found the bug.", id="sentence-initial-reading"),
        pytest.param("Nice work on the release!", id="sentence-initial-nice"),
        pytest.param("Mobile users see a blank page.", id="mobile"),
        pytest.param("The United Nations published a report.", id="united-nations"),
        pytest.param("He works at the Bank of America branch.", id="bank-of"),
        pytest.param("Dear Georgia, thanks for the note.", id="name-after-greeting"),
        pytest.param("We had dinner with Paris Hilton.", id="place-as-given-name"),
        pytest.param("IN WITNESS WHEREOF THE PARTIES HAVE SIGNED", id="shouted-heading"),
        pytest.param("Our servers are in Europe and Asia.", id="continents"),
        pytest.param("She moved to South America.", id="continent-after-a-cue"),
        pytest.param("TZ=Europe/Paris; cron uses America/New_York", id="time-zone-names"),
        pytest.param("set the zone to Asia/Tokyo", id="time-zone-city"),
    ],
)
def test_hard_negatives(tagger: EntityTagger, text: str) -> None:
    assert places(tagger, text) == []


def test_a_country_named_like_a_continent_is_still_a_place(tagger: EntityTagger) -> None:
    assert places(tagger, "She was born in Australia.") == ["Australia"]
    assert places(tagger, "He lives in Paris now.") == ["Paris"]


def test_place_cue_raises_the_score(tagger: EntityTagger) -> None:
    (plain,) = [h for h in tagger.detect("Toronto is large.") if h.data_class == "pii.location"]
    (cued,) = [h for h in tagger.detect("We live in Toronto.") if h.data_class == "pii.location"]
    assert plain.score < cued.score <= 1.0
