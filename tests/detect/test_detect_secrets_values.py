"""The helpers behind secret validators: entropy and shape, placeholder and template
checks, documented dummies, and the base62 CRC32 checksum."""

from __future__ import annotations

import random
import string
import zlib

import pytest

from bastion.detect.secrets.checks import base62_crc32, basic_credentials, jwt_header
from bastion.detect.secrets.dummies import dummy_meta, is_filler, is_known_dummy
from bastion.detect.secrets.entropy import (
    char_classes,
    counting_run,
    longest_run,
    looks_random,
    sequential_fraction,
    shannon,
)
from bastion.detect.secrets.values import human_secret, is_placeholder, machine_secret


def random_token(n: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_entropy_and_shape_statistics() -> None:
    assert shannon("") == 0.0
    assert shannon("aaaa") == 0.0
    assert shannon("abcd") == pytest.approx(2.0)
    assert char_classes("aB3-") == 4
    assert longest_run("xxaaaay") == 4
    assert counting_run("zz123456q") == 6
    assert counting_run("9876") == 4
    assert sequential_fraction("a1b2c3d4e5") > 0.8
    assert sequential_fraction(random_token(40)) < 0.2


@pytest.mark.parametrize(
    ("value", "random_looking"),
    [
        pytest.param(random_token(32), True, id="random-alnum"),
        pytest.param("c4e1f09a7d3b58e2a6f0b91d34c7e825", True, id="hex-digest"),
        pytest.param("thisisnotrandomatall", False, id="one-class"),
        pytest.param("abcdefghijkl123456", False, id="counting"),
        pytest.param("Ab1Ab1Ab1Ab1Ab1Ab1", False, id="low-entropy"),
        pytest.param("Ab3$", False, id="too-short"),
    ],
)
def test_looks_random(value: str, random_looking: bool) -> None:
    assert looks_random(value) is random_looking
    assert machine_secret(value) is random_looking


@pytest.mark.parametrize(
    "value",
    [
        "changeme", "CHANGEME", "${SECRET}", "{{ token }}", "%(password)s", "<password>",
        "[password]", "$PASSWORD", "%DB_PASS%", "xxxxxxxx", "********", "your_api_key_here",
        "YOUR-PASSWORD", "null", "None", "true", "0000000000",
    ],
)  # fmt: skip
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)
    assert not human_secret(value)


@pytest.mark.parametrize("value", ["hunter2", "Tr0ub4dor&3", "open sesame", "p@ss", "Zxcv@123)"])
def test_chosen_passwords_are_kept(value: str) -> None:
    assert human_secret(value)


def test_known_dummies() -> None:
    assert is_known_dummy("AKIAIOSFODNN7EXAMPLE")
    assert is_known_dummy("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert not is_known_dummy(random_token(40))
    assert is_filler("x" * 30) and is_filler("0" * 20) and not is_filler(random_token(30))
    assert dummy_meta("xoxb-0000000000-xxxxxxxxxxxx", "0000000000-xxxxxxxxxxxx") == {
        "known_dummy": "true"
    }
    assert dummy_meta(random_token(30)) == {}


def test_base62_crc32_matches_the_documented_scheme() -> None:
    body = random_token(30, seed=9)
    expected = zlib.crc32(body.encode())
    digits = base62_crc32(body)
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    decoded = 0
    for char in digits:
        decoded = decoded * 62 + alphabet.index(char)
    assert len(digits) == 6 and decoded == expected


def test_basic_credentials_and_jwt_header_checks() -> None:
    assert basic_credentials("Ym9iOnMzY3IzdC1wYXNz") == {}  # bob:s3cr3t-pass
    assert basic_credentials("QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == {"known_dummy": "true"}
    assert basic_credentials("dXNlcm5hbWU=") is None  # "username": no colon
    assert basic_credentials("not base64!") is None
    assert jwt_header("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.") == {}
    assert jwt_header("eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.sig") is None  # {"foo":"bar"}
