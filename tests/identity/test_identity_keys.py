"""Token formats: generation, strict parsing, hashing and constant-time matching."""

from __future__ import annotations

import re

import pytest

from bastion.identity.keys import (
    ADMIN_TOKEN,
    generate_key,
    hash_secret,
    parse_key,
    secret_matches,
)

WELL_FORMED = "bst_AbCd1234_" + "x" * 30 + "Z9"


def test_generated_keys_have_the_contract_format_and_parse_back() -> None:
    key_id, plaintext = generate_key()
    assert re.fullmatch(r"bst_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}", plaintext)
    assert parse_key(plaintext) == (key_id, plaintext[13:])


def test_generated_keys_are_unique() -> None:
    assert len({generate_key()[1] for _ in range(200)}) == 200


def test_admin_tokens_use_their_own_prefix() -> None:
    token_id, plaintext = ADMIN_TOKEN.generate()
    assert plaintext.startswith(f"bat_{token_id}_")
    assert parse_key(plaintext) is None
    assert ADMIN_TOKEN.parse(generate_key()[1]) is None


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param(12345, id="not-a-string"),
        pytest.param(WELL_FORMED[:-1], id="one-short"),
        pytest.param(WELL_FORMED + "a", id="one-long"),
        pytest.param("sk-" + WELL_FORMED[3:], id="openai-prefix"),
        pytest.param("bst-" + WELL_FORMED[4:], id="dash-after-prefix"),
        pytest.param(WELL_FORMED[:12] + "-" + WELL_FORMED[13:], id="dash-after-id"),
        pytest.param(WELL_FORMED[:20] + "_" + WELL_FORMED[21:], id="underscore-in-secret"),
        pytest.param(WELL_FORMED[:20] + "é" + WELL_FORMED[21:], id="non-ascii"),
        pytest.param(WELL_FORMED[:20] + "\u0663" + WELL_FORMED[21:], id="unicode-digit"),
        pytest.param(WELL_FORMED[:20] + " " + WELL_FORMED[21:], id="space"),
        pytest.param("Bearer " + WELL_FORMED, id="with-scheme"),
        pytest.param("bst_" + "a" * 10_000_000, id="huge"),
    ],
)
def test_malformed_keys_parse_to_none(presented: object) -> None:
    assert parse_key(presented) is None


def test_well_formed_key_parses() -> None:
    assert parse_key(WELL_FORMED) == ("AbCd1234", "x" * 30 + "Z9")


def test_hash_is_sha256_hex_and_never_the_secret() -> None:
    digest = hash_secret("s" * 32)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert "s" * 32 not in digest
    assert hash_secret("s" * 32) == digest


def test_secret_matches_only_its_hash_and_never_the_dummy() -> None:
    secret = "k" * 32
    assert secret_matches(secret, hash_secret(secret))
    assert not secret_matches("j" * 32, hash_secret(secret))
    assert not secret_matches(secret, None)
