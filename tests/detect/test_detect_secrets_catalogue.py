"""Meta-tests for the ``secret.*`` catalogue: size, naming, RE2 validity, one RE2 set,
descriptions for every class, Bastion's own key formats, and linear-time scanning."""

from __future__ import annotations

import re
import statistics
import time
from functools import cache

import pytest
import re2

from bastion.detect.engine import Engine
from bastion.detect.secrets import secret_classes, secret_pattern_groups, secret_patterns
from bastion.identity.keys import ADMIN_TOKEN, GATEWAY_KEY, TokenFormat

PROSE = (
    "Thanks for the notes from Tuesday's meeting. The team agreed to move the launch to the "
    "second week of March, after the design review, so that support has time to update the "
    "help centre articles. Two open questions remain: whether the pricing page should show "
    "annual plans first, and who owns the migration guide for customers on the old API. "
    "Please send comments by Friday; I will collect them and circulate a revised plan. "
) * 6


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = 64 << 20
    return options


def _source(regex: str, case_insensitive: bool) -> str:
    return f"(?i){regex}" if case_insensitive else regex


def test_catalogue_size() -> None:
    patterns = secret_patterns()
    assert len({p.id for p in patterns}) >= 80
    assert len({p.data_class for p in patterns}) >= 60


def test_ids_are_unique_and_classes_well_named() -> None:
    ids = [p.id for p in secret_patterns()]
    assert len(ids) == len(set(ids))
    for pattern in secret_patterns():
        assert re.fullmatch(r"secret\.[a-z0-9_]+", pattern.data_class), pattern.id
        assert re.fullmatch(r"secret\.[a-z0-9_]+\.[a-z0-9_]+", pattern.id), pattern.id
        assert pattern.meta.get("provider") and pattern.meta.get("kind"), pattern.id


def test_every_class_is_described_and_every_description_is_used() -> None:
    described = dict(secret_classes())
    produced = {p.data_class for p in secret_patterns()}
    assert produced == set(described)
    assert all(text.endswith(".") and len(text) > 10 for text in described.values())


def test_every_regex_compiles_in_re2() -> None:
    for pattern in secret_patterns():
        compiled = re2.compile(_source(pattern.regex, pattern.case_insensitive), _options())
        assert compiled.groups >= pattern.group, pattern.id


def test_all_patterns_compile_into_one_set_and_prose_matches_nothing() -> None:
    matcher = re2.Set.SearchSet(_options())
    for pattern in secret_patterns():
        matcher.Add(_source(pattern.regex, pattern.case_insensitive))
    matcher.Compile()
    text = PROSE[:2048]
    assert not matcher.Match(text)
    for _ in range(50):
        matcher.Match(text)
    timings = []
    for _ in range(200):
        start = time.perf_counter()
        matcher.Match(text)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 200e-6  # low tens of µs on a quiet machine


def test_pattern_groups_partition_the_catalogue() -> None:
    vendors, grammars = secret_pattern_groups()
    assert sorted(p.id for p in (*vendors, *grammars)) == sorted(p.id for p in secret_patterns())
    assert {p.id for p in grammars} >= {
        p.id for p in secret_patterns() if p.id.startswith(("secret.generic.", "secret.uri."))
    }
    assert not any(p.id.startswith("secret.generic.") for p in vendors)


@pytest.mark.parametrize(
    ("token_format", "data_class"),
    [
        pytest.param(GATEWAY_KEY, "secret.bastion_key", id="gateway-key"),
        pytest.param(ADMIN_TOKEN, "secret.bastion_admin_token", id="admin-token"),
    ],
)
def test_bastion_tokens_from_identity_are_detected(
    token_format: TokenFormat, data_class: str
) -> None:
    _, plaintext = token_format.generate()
    hits = engine().scan(f"my key is {plaintext}, please keep it safe")
    assert [(h.data_class, h.value) for h in hits] == [(data_class, plaintext)]
    assert hits[0].score >= 0.9


def test_bastion_near_misses_are_not_detected() -> None:
    _, plaintext = GATEWAY_KEY.generate()
    for text in (plaintext[:-1], plaintext + "x", plaintext.replace("bst_", "bsx_")):
        assert not [h for h in engine().scan(text) if h.data_class == "secret.bastion_key"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("7" * 100_000, id="digits"),
        pytest.param("@" * 100_000, id="at-signs"),
        pytest.param("QUJD" * 25_000, id="base64"),
        pytest.param("password=x " * 9_000, id="keyword-floods"),
        pytest.param("-----BEGIN RSA PRIVATE KEY-----!" * 3_000, id="pem-headers"),
        pytest.param("http://u:p@" * 9_000, id="userinfo"),
    ],
)
def test_hostile_input_scans_in_linear_time(text: str) -> None:
    engine().scan(text[:1000])
    start = time.perf_counter()
    engine().scan(text)
    assert time.perf_counter() - start < 1.0
