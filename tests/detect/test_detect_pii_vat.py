"""``pii.vat_id``: generated VAT numbers with their country prefix, and near-misses."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from stdnum import luhn
from stdnum.at import uid as at_uid
from stdnum.ch import uid as ch_uid
from stdnum.de import vat as de_vat
from stdnum.fr import tva as fr_tva
from stdnum.gb import vat as gb_vat
from stdnum.gr import vat as gr_vat
from stdnum.nl import btw as nl_btw

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.pii import pii_patterns

REPORTED = 0.5  # the scanner's default class threshold


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(pii_patterns())


def reported(engine: Engine, text: str) -> list[Hit]:
    return [h for h in engine.scan(text) if h.data_class == "pii.vat_id" and h.score >= REPORTED]


def complete(stem: str, is_valid: Callable[[str], bool], width: int = 1) -> str:
    """``stem`` plus the first check digits that make ``is_valid`` accept it."""
    for tail in itertools.product("0123456789", repeat=width):
        if is_valid(candidate := stem + "".join(tail)):
            return candidate
    raise AssertionError(f"no valid completion of {stem!r}")  # pragma: no cover


DE = complete("DE48271635", de_vat.is_valid)
SIREN = complete("48271635", luhn.is_valid)
FR = complete("FR", lambda n: fr_tva.is_valid(n + SIREN), width=2) + SIREN
NL = complete("NL48271635", lambda n: nl_btw.is_valid(n + "B01")) + "B01"
AT = complete("ATU4827163", at_uid.is_valid)
EL = complete("EL48271635", gr_vat.is_valid)
GB = complete("GB4827163", gb_vat.is_valid, width=2)
CHE = complete("CHE48271635", ch_uid.is_valid)


@pytest.mark.parametrize(
    ("text", "expected", "country"),
    [
        pytest.param(f"VAT {DE}", DE, "DE", id="de"),
        pytest.param(f"VAT {DE[:2]}\u2013{DE[2:]}", f"{DE[:2]}\u2013{DE[2:]}", "DE", id="en-dash"),
        pytest.param(f"USt-IdNr. {DE[:2]} {DE[2:5]} {DE[5:8]} {DE[8:]}",
                     f"{DE[:2]} {DE[2:5]} {DE[5:8]} {DE[8:]}", "DE", id="de-grouped"),
        pytest.param(f"TVA {FR}", FR, "FR", id="fr-with-key"),
        pytest.param(f"BTW {NL}", NL, "NL", id="nl-with-letter"),
        pytest.param(f"UID {AT}", AT, "AT", id="at-with-u"),
        pytest.param(f"ΑΦΜ {EL}", EL, "GR", id="greece-el-prefix"),
        pytest.param(f"VAT reg {GB}", GB, "GB", id="gb"),
        pytest.param(f"{CHE[:3]}-{CHE[3:6]}.{CHE[6:9]}.{CHE[9:]} MWST",
                     f"{CHE[:3]}-{CHE[3:6]}.{CHE[6:9]}.{CHE[9:]}", "CH", id="swiss-uid"),
        pytest.param(f"{DE} ASAP", DE, "DE", id="stops-before-upper-case-word"),
    ],
)  # fmt: skip
def test_vat_positives(engine: Engine, text: str, expected: str, country: str) -> None:
    [hit] = reported(engine, text)
    assert hit.value == expected and hit.meta["country"] == country


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"VAT {DE[:-1]}{(int(DE[-1]) + 1) % 10}", id="bad-check-digit"),
        pytest.param(f"VAT {DE[2:]}", id="no-country-prefix"),
        pytest.param(f"VAT {DE.lower()}", id="lower-case-prefix"),
        pytest.param(f"VAT {DE}7", id="too-long"),
        pytest.param("VAT US123456789", id="not-a-vat-country"),
        pytest.param("DE89 3704 0044 0532 0130 00", id="german-iban"),
    ],
)
def test_vat_near_misses(engine: Engine, text: str) -> None:
    assert reported(engine, text) == []
