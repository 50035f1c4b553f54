"""Keys named ``<anything>_KEY`` / ``<anything>Key``: found when the value looks
generated, left alone when the name says the key is public or not a credential, and
left to the vendor's own format when a vendor owns the name (AWS secret keys, Twitch
stream keys).

Values are generated with a fixed seed; vendor names are made up, so the rows test the
grammar rather than a list.
"""

from __future__ import annotations

import random
import string
from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
THRESHOLD = 0.5


def r(alphabet: str, n: int, seed: int = 5) -> str:
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def hits(text: str) -> list[Hit]:
    return [h for h in engine().scan(text) if h.score >= THRESHOLD]


def values(text: str) -> set[str]:
    return {h.value for h in hits(text)}


KEY = r(ALNUM, 32)
HEX_KEY = r(HEX, 32)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"ZORBLY_KEY={KEY}", id="env-upper-snake"),
        pytest.param(f"export ZORBLY_ADMIN_KEY={HEX_KEY}", id="env-hex"),
        pytest.param(f"zorblyKey: '{KEY}'", id="camel-single-quoted"),
        pytest.param(f'"X-Zorbly-Key": "{KEY}"', id="header-json"),
        pytest.param(f"settings:\n  hmac_key: {KEY}\n", id="yaml-line"),
        pytest.param(f'const webhookSigningKey = "{KEY}";', id="js-const"),
        pytest.param(f"STORAGE_ACCOUNT_KEY={KEY}", id="storage-account"),
    ],
)
def test_generated_value_under_a_key_name_is_found(text: str) -> None:
    found = hits(text)
    assert {h.data_class for h in found} == {"secret.generic_api_key"}
    assert {h.value for h in found} == {KEY if KEY in text else HEX_KEY}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"ZORBLY_PUBLIC_KEY={KEY}", id="public"),
        pytest.param(f"zorblyPublishableKey: '{KEY}'", id="publishable-camel"),
        pytest.param(f"RECAPTCHA_SITE_KEY=6L{r(ALNUM, 38)}", id="site-key"),
        pytest.param(f'cache_key = "{HEX_KEY}"', id="cache"),
        pytest.param(f'idempotencyKey: "{HEX_KEY}"', id="idempotency"),
        pytest.param(f"PublicKey = {r(ALNUM + '+/', 43)}=", id="wireguard-public"),
        pytest.param('storageKey = "user_settings_v2"', id="wordy-value"),
        pytest.param("ZORBLY_KEY=${ZORBLY_KEY}", id="template"),
        pytest.param('ZORBLY_KEY="your_zorbly_key_here"', id="placeholder"),
        pytest.param(f'monkey = "{KEY}"', id="key-inside-a-word"),
        pytest.param("primaryKey: 'user_id'", id="primary"),
    ],
)
def test_public_or_non_credential_keys_are_not_found(text: str) -> None:
    assert hits(text) == []


def test_a_vetoed_name_does_not_hide_the_next_key_on_the_line() -> None:
    assert values(f"A_PUBLIC_KEY=abc ZORBLY_KEY={KEY}") == {KEY}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"export AWS_SECRET_ACCESS_KEY={r(HEX, 42)}", id="aws-42-hex"),
        pytest.param(f'aws_secret_key = "{r(ALNUM, 24)}"', id="aws-too-short"),
        pytest.param(f'TWITCH_STREAM_KEY = "123456789_{r(ALNUM, 30)}"', id="twitch-without-live"),
    ],
)
def test_value_that_misses_the_owning_vendor_format_is_a_near_miss(text: str) -> None:
    assert hits(text) == []


def test_value_that_fits_the_owning_vendor_format_is_the_vendor_class() -> None:
    secret = r(ALNUM + "/+", 40)
    assert {h.data_class for h in hits(f"export AWS_SECRET_ACCESS_KEY={secret}")} == {
        "secret.aws_secret_key"
    }
    stream = f"live_123456789_{r(ALNUM, 30)}"
    assert {h.data_class for h in hits(f'TWITCH_STREAM_KEY = "{stream}"')} == {
        "secret.twitch_stream_key"
    }
