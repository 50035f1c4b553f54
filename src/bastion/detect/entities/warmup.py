"""Synthetic text that fills the entity scanners' DFA caches before the first request.

RE2 compiles a pattern to a DFA lazily: each state is built the first time a text leads
to it, at a cost of microseconds, and then reused for nanoseconds. Without warm-up the
first thousand or so requests each pay for the states their characters reach. This text
walks the scanners through what real prose offers: capitalised runs of every shape
(initials, particles, hyphens, apostrophes, accented and non-Latin letters), numbers
before and after street words in three casings, boxes, postcodes, cue phrases, and the
usual punctuation, quotes, tabs and line breaks between them. It is generated from the
taggers' own word lists with a fixed seed, so it is the same in every process.
"""

from __future__ import annotations

import random

from bastion.detect.entities.gazetteer import person_names, places
from bastion.detect.entities.lexicon import (
    ADDRESS_CUES,
    COMMON_WORDS,
    LOCATION_CUES,
    ORG_WORDS,
    PARTICLES,
    PERSON_CUES,
    SPEECH_VERBS,
    STREET_SUFFIXES,
    TITLES,
    UNIT_WORDS,
    WEAK_STREET_SUFFIXES,
)

_SIZE = 300_000  # characters; a few tenths of a second of scanning, once per process
_SEED = 20_240_601


def _words(text: str) -> list[str]:
    return text.split()


_PROSE = _words(
    "the of and to in is that for it as with was on be by at this from or an are not we "
    "you all can but has have will one which their more about would there our if so what"
)
_NAMES = _words(
    "Sarah Whitfield Ana Ferreira Hans-Peter Müller Zoë Faure O'Brien D'Angelo McDonald "
    "Agnieszka Wiśniewska Łukasz Ørsted Ærø Çelik Şahin İstanbul Ñuñez José Ángel Émile "
    "Jürgen Straße Søren Þór Ðorđe Έλενα Παπαδοπούλου Иван Петров Анна Kowalczyk al-Rashid "
    "bin-Laden Nguyễn Văn Đức São Paulo München Zürich Kraków Košice Tromsø Győr Bruxelles"
)
_MARKS = (" ", " ", " ", " ", "  ", "\t", ", ", ". ", "; ", ": ", "\n", "\n\n", " - ")
_QUOTES = ('"', "'", "\u201c", "\u201d", "\u2018", "\u2019", "(", ")", "[", "]", "«", "»")
_OTHER = (
    "🙂",
    "日本語",
    "テキスト",
    "\u2014",
    "\u2013",
    "…",
    "•",
    "@",
    "#",
    "/",
    "\\",
    "_",
    "&",
    "€",
    "$",
)


def warm_text() -> str:
    """About ``_SIZE`` characters of varied text for the scanners (deterministic)."""
    rng = random.Random(_SEED)
    geo = places()
    gazetteer = sorted(person_names().first | person_names().last | geo.countries)
    gazetteer += sorted(geo.cities)
    gazetteer = [w.title() for w in rng.sample(gazetteer, 6000)]
    capitalised = _NAMES + [w.title() for w in sorted(ORG_WORDS | TITLES | PARTICLES)]
    capitalised += gazetteer + [w.title() for w in rng.sample(sorted(COMMON_WORDS), 1500)]
    lower = _PROSE * 20 + sorted(LOCATION_CUES | PERSON_CUES | SPEECH_VERBS | ADDRESS_CUES)
    lower += sorted(COMMON_WORDS)
    streets = sorted(STREET_SUFFIXES | WEAK_STREET_SUFFIXES | UNIT_WORDS)
    makers = (
        lambda: rng.choice(capitalised),
        lambda: rng.choice(lower),
        lambda: rng.choice(lower),
        lambda: rng.choice(capitalised) + " " + rng.choice(capitalised),
        lambda: rng.choice("ABCDEFGHJKLMNOPRSTVWZ") + ".",
        lambda: rng.choice(sorted(PARTICLES)),
        lambda: str(rng.randint(1, 99_999)) + rng.choice(("", "", "B", "-2", "/4")),
        # a number before words, words before a number: what the address shapes try
        lambda: f"{rng.randint(1, 9999)} " + " ".join(rng.choices(lower + capitalised, k=4)),
        lambda: " ".join(rng.choices(capitalised, k=rng.randint(1, 3))) + f" {rng.randint(1, 999)}",
        lambda: _street(rng, rng.choice(streets), capitalised),
        lambda: rng.choice(("P.O. Box", "PO Box", "PSC 1437, Box", "Unit", "Apt.", "Suite")),
        lambda: rng.choice(("SW1A 1AA", "EC1A 1BB", "10115 Berlin", "NY 10001", "CA 94105")),
        lambda: rng.choice(("my name is", "Dear", "Hi,", "Regards,\n", "says", "said")),
        lambda: rng.choice(_QUOTES) + rng.choice(capitalised) + rng.choice(_QUOTES),
        lambda: rng.choice(_OTHER),
        lambda: rng.choice(capitalised).upper(),
    )
    parts: list[str] = []
    size = 0
    while size < _SIZE:
        part = rng.choice(makers)() + rng.choice(_MARKS)
        parts.append(part)
        size += len(part)
    return "".join(parts)


def _street(rng: random.Random, suffix: str, names: list[str]) -> str:
    """A street line in one of the shapes the address scanner knows, in a random casing."""
    suffix = rng.choice((suffix, suffix.title(), suffix.upper()))
    number = str(rng.randint(1, 9999))
    name = rng.choice(names)
    return rng.choice(
        (
            f"{number} {name} {suffix}",
            f"{number} {name} {rng.choice(names)} {suffix}.",
            f"{number}, rue de la {name}",
            f"Via {name} {number}",
            f"{name}straße {number}",
            f"{name} {number}",
        )
    )
