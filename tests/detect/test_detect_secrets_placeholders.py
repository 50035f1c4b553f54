"""Where a placeholder ends and a weak value begins.

* A mask (``xxxx``, ``****``, one repeated character) only stands in for a value, so it
  is never reported; a counting run (``123456``, ``abcdef``) where a password goes is
  the commonest real weak password, so it is reported, marked ``known_dummy``.
* A generated-looking value with a segment saying it was masked or made up
  (``…-REDACTED``, ``…_FAKE_…``) is not a key; a value that tells the reader to change
  or replace it is not a secret.
* Folklore example secrets (``keyboard cat``) are reported, marked ``known_dummy``.

Values are made up for these tests.
"""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns
from bastion.detect.secrets.dummies import is_mask
from bastion.detect.secrets.values import has_marker_segment, human_secret, machine_secret

THRESHOLD = 0.5
API_KEY = "Vq7Lz2Kp9Wx4Rt6Nm3Bc8Hd"  # 24 mixed characters


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def hits(text: str) -> list[Hit]:
    return [h for h in engine().scan(text) if h.score >= THRESHOLD]


WEAK_PASSWORDS = [
    pytest.param("machine ftp.example.org login ops password 123456789", "123456789",
                 "secret.netrc_credentials", id="netrc-digits"),
    pytest.param("machine git.example.org login ci password 01234abcde", "01234abcde",
                 "secret.netrc_credentials", id="netrc-counting-mixed"),
    pytest.param('db_password = "abcdef123456"', "abcdef123456", "secret.generic_password",
                 id="assignment-counting"),
    pytest.param("mysql -u root -p12345678 shop", "12345678", "secret.cli_password",
                 id="cli-digits"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value", "data_class"), WEAK_PASSWORDS)
def test_counting_passwords_are_reported_as_known_dummies(
    text: str, value: str, data_class: str
) -> None:
    found = [h for h in hits(text) if h.value == value]
    assert {h.data_class for h in found} == {data_class}
    assert all(h.meta.get("known_dummy") == "true" for h in found)


MASKS_AND_INSTRUCTIONS = [
    pytest.param("machine ftp.example.org login ops password ********", id="netrc-stars"),
    pytest.param('password = "xxxxxxxxxx"', id="x-mask"),
    pytest.param('password = "0000000000"', id="zero-mask"),
    pytest.param("DB_PASSWORD=##########", id="hash-mask"),
    pytest.param('api_key = "sk-proj-REDACTED"', id="redacted-segment"),
    pytest.param('token = "tok_FAKE_9xQ2mL7vR4pZ"', id="fake-segment"),
    pytest.param('auth_token: "placeholder-7Hq2KfP9xL4m"', id="placeholder-segment"),
    pytest.param("API_KEY=dummy.Zx81QmP0rT5w", id="dummy-segment"),
    pytest.param('secret_key = "insecure-dev-key-change-in-production"', id="change-in-prod"),
    pytest.param("JWT_SECRET=please_change_this_secret_value", id="change-this"),
    pytest.param('client_secret: "replace-with-your-client-secret"', id="replace-with"),
    pytest.param('session_secret = "signing-key-goes-here"', id="goes-here"),
]  # fmt: skip


@pytest.mark.parametrize("text", MASKS_AND_INSTRUCTIONS)
def test_masks_markers_and_instructions_are_not_reported(text: str) -> None:
    assert hits(text) == []


NEAR_MARKERS = [
    # a marker word glued inside a random run is not a segment of its own
    pytest.param(f'api_key = "{API_KEY}fake"', f"{API_KEY}fake", id="glued-word"),
    pytest.param(f'token = "{API_KEY}"', API_KEY, id="plain-random"),
    pytest.param('password = "Rosebud-1941"', "Rosebud-1941", id="chosen-password"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), NEAR_MARKERS)
def test_values_near_the_markers_are_still_reported(text: str, value: str) -> None:
    found = [h for h in hits(text) if h.value == value]
    assert found and found[0].meta.get("known_dummy") is None


def test_folklore_session_secret_is_a_known_dummy() -> None:
    (hit,) = hits('app.use(session({ secret: "keyboard cat" }))')
    assert hit.value == "keyboard cat"
    assert hit.meta["known_dummy"] == "true"


@pytest.mark.parametrize(
    ("value", "mask"),
    [
        ("xxxxxxxx", True),
        ("********", True),
        ("aaaaaaaaaaaa", True),
        ("", True),
        ("123456789", False),
        ("abcdef123456", False),
        (API_KEY, False),
    ],
)
def test_is_mask(value: str, mask: bool) -> None:
    assert is_mask(value) is mask


def test_value_helpers() -> None:
    assert human_secret("12345678")
    assert not human_secret("********")
    assert has_marker_segment("sk-proj-REDACTED")
    assert has_marker_segment("ghp_Example_0123")
    assert not has_marker_segment("sk-proj-Redactedq8Vz3LmW")
    assert not machine_secret("AKIA-SAMPLE-1234567890")
    assert machine_secret(API_KEY)


TRUNCATED_VENDOR_KEYS = [
    pytest.param(f"GITHUB_TOKEN=ghp_{API_KEY}{API_KEY[:12]}", id="github-35-characters"),
    pytest.param(f'npm_token = "npm_{API_KEY}"', id="npm-23-characters"),
    pytest.param(f"api_key: AIza{API_KEY}", id="google-23-characters"),
    pytest.param("aws_access_key_id = AKIAQ7ZT3MRX5LWB", id="aws-key-id-12-characters"),
    pytest.param(f"Authorization: Bearer ghp_{API_KEY[:20]}", id="bearer-github-20-characters"),
]  # fmt: skip


@pytest.mark.parametrize("text", TRUNCATED_VENDOR_KEYS)
def test_vendor_prefixes_off_their_layout_are_near_misses(text: str) -> None:
    assert hits(text) == []


def test_vendor_prefix_with_its_layout_is_the_vendors() -> None:
    token = f"ghp_{API_KEY}{API_KEY[:13]}"  # 36 characters
    assert {h.data_class for h in hits(f"GITHUB_TOKEN={token}")} == {"secret.github_token"}
