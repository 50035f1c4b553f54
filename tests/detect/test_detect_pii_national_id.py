"""``pii.national_id``: one generated valid number per scheme, its near-misses, and the
context words the bare-digit schemes require."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest
from stdnum.be import nn as be_nn
from stdnum.ca import sin as ca_sin
from stdnum.ch import ssn as ch_ahv
from stdnum.de import idnr as de_idnr
from stdnum.dk import cpr as dk_cpr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nir as fr_nir
from stdnum.in_ import aadhaar as in_aadhaar
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.no import fodselsnummer as no_fnr
from stdnum.pl import pesel as pl_pesel
from stdnum.se import personnummer as se_pnr

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.pii import pii_patterns
from bastion.detect.pii.fragments import is_repetitive

REPORTED = 0.5  # the scanner's default class threshold
DIGITS = "0123456789"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(pii_patterns())


def reported(engine: Engine, text: str) -> list[Hit]:
    return [
        h for h in engine.scan(text) if h.data_class == "pii.national_id" and h.score >= REPORTED
    ]


def complete(
    stem: str, is_valid: Callable[[str], bool], width: int = 1, alphabet: str = DIGITS
) -> str:
    """``stem`` plus the first check characters that make ``is_valid`` accept it."""
    for tail in itertools.product(alphabet, repeat=width):
        if is_valid(candidate := stem + "".join(tail)):
            return candidate
    raise AssertionError(f"no valid completion of {stem!r}")  # pragma: no cover


def broken(number: str) -> str:
    """The number with its last digit changed (check digit no longer fits)."""
    last = number[-1]
    return number[:-1] + (str((int(last) + 1) % 10) if last.isdigit() else "0")


IDNR = complete("8657423108", de_idnr.is_valid)  # one digit twice, as IdNr requires
NIR = "2951099126111" + fr_nir.calc_check_digits("2951099126111")
DNI = "48271635" + es_dni.calc_check_digit("48271635")
NIE = "X4827163" + es_nie.calc_check_digit("X4827163")
CF_STEM = "RSSMRA85T10A562"
CODICE_FISCALE = CF_STEM + it_cf.calc_check_digit(CF_STEM)
BSN = complete("48271635", nl_bsn.is_valid)
PESEL = "8512104827" + pl_pesel.calc_check_digit("8512104827")
PERSONNUMMER = complete("851210-482", se_pnr.is_valid)
HETU = complete("101285-482", fi_hetu.is_valid, alphabet="0123456789ABCDEFHJKLMNPRSTUVWXY")
AHV = complete("756482716359", ch_ahv.is_valid)
CPR = complete("101285-482", dk_cpr.is_valid)
FNR = complete("101285482", no_fnr.is_valid, width=2)
SIN = complete("13069254", ca_sin.is_valid)
AADHAAR = complete("48271635921", in_aadhaar.is_valid)
BE_NN = complete("851210482", be_nn.is_valid, width=2)


def nino(prefix: str = "JG", suffix: str = "A") -> str:
    return f"{prefix}482716{suffix}"


@pytest.mark.parametrize(
    ("text", "expected", "country", "kind"),
    [
        # distinctive, checksummed shapes: no context needed
        pytest.param(f"CF {CODICE_FISCALE}", CODICE_FISCALE, "IT", "codice_fiscale", id="it-cf"),
        pytest.param(f"id {CODICE_FISCALE.lower()}", CODICE_FISCALE.lower(), "IT",
                     "codice_fiscale", id="it-cf-lower"),
        pytest.param(f"ref {DNI}", DNI, "ES", "dni", id="es-dni"),
        pytest.param(f"ref {NIE}", NIE, "ES", "nie", id="es-nie"),
        pytest.param(f"ref {NIR}", NIR, "FR", "nir", id="fr-nir"),
        pytest.param(f"ref {fr_nir.format(NIR)}", fr_nir.format(NIR), "FR", "nir",
                     id="fr-nir-spaced"),
        pytest.param(f"personnr {PERSONNUMMER}", PERSONNUMMER, "SE", "personnummer",
                     id="se-dashed"),
        pytest.param(f"ref {HETU}", HETU, "FI", "hetu", id="fi-hetu"),
        pytest.param(f"ref {ch_ahv.format(AHV)}", ch_ahv.format(AHV), "CH", "ahv", id="ch-ahv"),
        # NINO: shape shared with part numbers, so a context word clears the threshold
        pytest.param(f"NI number {nino()}", nino(), "GB", "nino", id="gb-nino"),
        pytest.param("national insurance JG 48 27 16 A", "JG 48 27 16 A", "GB", "nino",
                     id="gb-nino-spaced"),
        # bare digit runs: context required
        pytest.param(f"Steuer-ID {IDNR}", IDNR, "DE", "idnr", id="de-idnr"),
        pytest.param(f"BSN {BSN}", BSN, "NL", "bsn", id="nl-bsn"),
        pytest.param(f"PESEL {PESEL}", PESEL, "PL", "pesel", id="pl-pesel"),
        pytest.param(f"CPR-nr {CPR}", CPR, "DK", "cpr", id="dk-cpr"),
        pytest.param(f"fødselsnummer {FNR}", FNR, "NO", "fodselsnummer", id="no-fnr"),
        pytest.param(f"SIN {SIN}", SIN, "CA", "sin", id="ca-sin"),
        pytest.param(f"Aadhaar {in_aadhaar.format(AADHAAR)}", in_aadhaar.format(AADHAAR), "IN",
                     "aadhaar", id="in-aadhaar"),
        pytest.param(f"rijksregisternummer {BE_NN}", BE_NN, "BE", "nn", id="be-nn"),
        pytest.param(f"AHV-Nr. {AHV}", AHV, "CH", "ahv", id="ch-ahv-undotted"),
        pytest.param(f"personnummer {PERSONNUMMER.replace('-', '')}",
                     PERSONNUMMER.replace("-", ""), "SE", "personnummer", id="se-bare"),
    ],
)  # fmt: skip
def test_national_id_positives(
    engine: Engine, text: str, expected: str, country: str, kind: str
) -> None:
    hits = reported(engine, text)
    assert {h.value for h in hits} == {expected}
    assert {(h.meta["country"], h.meta["kind"]) for h in hits} >= {(country, kind)}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"CF {CODICE_FISCALE[:-1]}{'A' if CODICE_FISCALE[-1] != 'A' else 'B'}",
                     id="it-cf-bad-check"),
        pytest.param(f"DNI {DNI[:-1]}{'A' if DNI[-1] != 'A' else 'B'}", id="es-dni-bad-letter"),
        pytest.param(f"NIR {broken(NIR)}", id="fr-nir-bad-key"),
        pytest.param(f"personnummer {broken(PERSONNUMMER)}", id="se-bad-luhn"),
        pytest.param(f"NINO {nino('QQ', 'C')}", id="gb-nino-example-prefix"),
        pytest.param(f"NINO {nino('GB')}", id="gb-nino-never-issued"),
        pytest.param(f"NINO {nino(suffix='E')}", id="gb-nino-bad-suffix"),
        pytest.param(f"part {nino()}", id="gb-nino-without-context"),
        pytest.param(f"order {IDNR}", id="de-idnr-without-context"),
        pytest.param(f"Steuer-ID {broken(IDNR)}", id="de-idnr-bad-check"),
        pytest.param(f"invoice {BSN}", id="nl-bsn-without-context"),
        pytest.param(f"BSN {broken(BSN)}", id="nl-bsn-fails-elfproef"),
        pytest.param(f"tracking {PESEL}", id="pl-pesel-without-context"),
        pytest.param(f"ref {AADHAAR}", id="in-aadhaar-without-context"),
        pytest.param("PESEL 11111111111", id="placeholder"),
        pytest.param(f"barcode {AHV}", id="ch-ahv-undotted-is-also-an-ean13"),
        pytest.param(f"order {PERSONNUMMER}", id="se-dashed-without-context"),
    ],
)  # fmt: skip
def test_national_id_near_misses(engine: Engine, text: str) -> None:
    assert reported(engine, text) == []


def _date(rng: random.Random, order: str) -> str:
    """Six digits holding a real day, month and two-digit year in ``order``."""
    parts = {"y": rng.randrange(100), "m": rng.randint(1, 12), "d": rng.randint(1, 28)}
    return "".join(f"{parts[key]:02d}" for key in order)


def _digits(rng: random.Random, count: int, first: str = DIGITS) -> str:
    return rng.choice(first) + "".join(rng.choice(DIGITS) for _ in range(count - 1))


@pytest.mark.parametrize(
    ("row", "is_valid", "stem", "checks"),
    [
        pytest.param("se_personnummer_bare", se_pnr.is_valid,
                     lambda rng: _date(rng, "ymd") + _digits(rng, 3), 1, id="se"),
        pytest.param("dk_cpr", dk_cpr.is_valid,
                     lambda rng: _date(rng, "dmy") + _digits(rng, 3), 1, id="dk"),
        pytest.param("no_fodselsnummer", no_fnr.is_valid,
                     lambda rng: _date(rng, "dmy") + _digits(rng, 3), 2, id="no"),
        pytest.param("pl_pesel", pl_pesel.is_valid,
                     lambda rng: _date(rng, "ymd") + _digits(rng, 4), 1, id="pl"),
        pytest.param("be_nn", be_nn.is_valid,
                     lambda rng: _date(rng, "ymd") + _digits(rng, 3), 2, id="be"),
        # IdNr: one digit of the first ten repeats, the others are all different
        pytest.param("de_idnr", de_idnr.is_valid,
                     lambda rng: "".join(rng.sample("123456789", 9)) + _digits(rng, 1), 1,
                     id="de"),
        pytest.param("nl_bsn", nl_bsn.is_valid, lambda rng: _digits(rng, 8), 1, id="nl"),
        pytest.param("ca_sin", ca_sin.is_valid, lambda rng: _digits(rng, 8), 1, id="ca"),
        pytest.param("in_aadhaar", in_aadhaar.is_valid,
                     lambda rng: _digits(rng, 11, first="23456789"), 1, id="in"),
    ],
)  # fmt: skip
def test_cheap_prechecks_keep_every_number_stdnum_accepts(
    row: str,
    is_valid: Callable[[str], bool],
    stem: Callable[[random.Random], str],
    checks: int,
) -> None:
    """Each row checks check digits (or the date) itself before python-stdnum runs; the
    verdicts over every completion of random stems must still be stdnum's."""
    [validator] = [p.validator for p in pii_patterns() if p.id == f"pii.national_id.{row}"]
    assert validator is not None
    rng = random.Random(row)
    candidates = [
        stem_digits + "".join(tail)
        for stem_digits in (stem(rng) for _ in range(40))
        for tail in itertools.product(DIGITS, repeat=checks)
    ]
    accepted = [c for c in candidates if validator(c) is not None]
    assert accepted == [c for c in candidates if is_valid(c) and not is_repetitive(c)]
    assert len(accepted) >= 10
