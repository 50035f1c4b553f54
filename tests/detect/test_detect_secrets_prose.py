"""Passwords stated in chat prose, and values that are names made of words.

A user who pastes "my wifi password is Sunny#Meadow88" has leaked a credential; one who
asks why "the password is too short" has not. Key-named values such as
``RefreshTokenExpired`` are names, not generated keys. All values are made up.
"""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.secrets import secret_patterns
from bastion.detect.secrets.words import is_word_name, segments

THRESHOLD = 0.5


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def found(text: str) -> set[tuple[str, str]]:
    return {(h.data_class, h.value) for h in engine().scan(text) if h.score >= THRESHOLD}


PROSE_PASSWORDS = [
    pytest.param("My wifi password is Sunny#Meadow88, can you help me connect?", "Sunny#Meadow88",
                 id="comma-ends-clause"),
    pytest.param("the password is hunter22 and the user is bob", "hunter22", id="joined-by-and"),
    pytest.param("Set the password to Welc0me!2 then log in.", "Welc0me!2", id="set-to"),
    pytest.param("my old password was Gr33n-Tea.", "Gr33n-Tea", id="sentence-end"),
    pytest.param("Use the admin password: Zq7!vR2p", "Zq7!vR2p", id="colon-mid-sentence"),
    pytest.param("The passphrase is xK9mP2vL4q for the staging box", "xK9mP2vL4q",
                 id="passphrase-for"),
    pytest.param("my passcode is 48291375", "48291375", id="digits-only-long"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), PROSE_PASSWORDS)
def test_passwords_stated_in_prose_are_found(text: str, value: str) -> None:
    assert ("secret.generic_password", value) in found(text)


PROSE_NEAR_MISSES = [
    pytest.param("the password is too short", id="adjective"),
    pytest.param("Password is 8-64 characters", id="length-range"),
    pytest.param("My password is incorrect, what do I do?", id="dictionary-word"),
    pytest.param("the password is case-sensitive", id="hyphenated-words"),
    pytest.param("set the password to something stronger", id="set-to-word"),
    pytest.param("the password is bcrypt-hashed before storage", id="hashing-note"),
    pytest.param("the passcode is 1234", id="short-number"),
    pytest.param("The password is stored in Vault.", id="verb-phrase"),
    pytest.param("my password is ********", id="masked"),
    pytest.param("the password is xxxxxxxx", id="x-filler"),
    pytest.param("password is: <redacted>", id="redacted"),
    pytest.param("the password is $DB_PASS2 from the environment", id="shell-variable"),
    pytest.param("the password is config.db_pw2", id="attribute-path"),
    pytest.param("pwd: /home/ci2/build", id="working-directory"),
    pytest.param("password was reset on 2024-03-01.", id="date"),
    pytest.param("password = get_password2()", id="code-call"),
]  # fmt: skip


@pytest.mark.parametrize("text", PROSE_NEAR_MISSES)
def test_prose_about_passwords_is_not_a_finding(text: str) -> None:
    assert found(text) == set()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("getAPIKey_v2", ["get", "API", "Key", "v"], id="camel-acronym-digit"),
        pytest.param("refresh-token.expired", ["refresh", "token", "expired"], id="separators"),
        pytest.param("q8Vz3Lm", ["q", "Vz", "Lm"], id="random"),
    ],
)
def test_segments_split_at_case_changes_and_separators(value: str, expected: list[str]) -> None:
    assert segments(value) == expected


@pytest.mark.parametrize(
    ("value", "is_name"),
    [
        pytest.param("StagingServiceAccountKey", True, id="camel-words"),
        pytest.param("refresh_token_expired", True, id="snake-words"),
        pytest.param("AccessTokenResponse", True, id="inflected-words"),
        pytest.param("q8Vz3LmW7tXb2RkN9pYc4HsD", False, id="generated-mixed"),
        pytest.param("kQzPmWnXcVbTrEwQaSdF", False, id="generated-letters"),
        pytest.param("ApiKeyV2", False, id="digit-inside"),
        pytest.param("Authorization", False, id="single-word"),
    ],
)
def test_word_names(value: str, is_name: bool) -> None:
    assert is_word_name(value) is is_name


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('api_key = "StagingServiceAccountKey"', id="api-key-name"),
        pytest.param('token: "RefreshTokenExpired"', id="token-enum"),
        pytest.param('access_token = "AccessTokenResponse"', id="class-name"),
    ],
)
def test_key_named_values_made_of_words_are_not_keys(text: str) -> None:
    assert found(text) == set()


def test_generated_value_next_to_the_same_keys_is_a_key() -> None:
    assert ("secret.generic_api_key", "q8Vz3LmW7tXb2RkN9pYc4HsD") in found(
        'api_key = "q8Vz3LmW7tXb2RkN9pYc4HsD"'
    )


KEY = "q8Vz3LmW7tXb2RkN9pYc4HsD"


@pytest.mark.parametrize(
    ("text", "data_class", "value"),
    [
        pytest.param("password for the guest network: Lakeside#42", "secret.generic_password",
                     "Lakeside#42", id="password-for-something"),
        pytest.param("pw: Tr4mline!9", "secret.generic_password", "Tr4mline!9", id="pw-colon"),
        pytest.param("Password - Orchid$77", "secret.generic_password", "Orchid$77",
                     id="password-dash"),
        pytest.param(f"my api key is {KEY}, can you check why it fails?",
                     "secret.generic_api_key", KEY, id="api-key-is"),
        pytest.param(f"here's the token: {KEY}", "secret.generic_api_key", KEY, id="token-colon"),
    ],
)  # fmt: skip
def test_more_prose_leads_are_found(text: str, data_class: str, value: str) -> None:
    assert (data_class, value) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("The password for 2FA is required.", id="password-for-required"),
        pytest.param("password for the router: printed on the back", id="password-for-words"),
        pytest.param("Password - 8 chars min, 1 digit", id="password-dash-policy"),
        pytest.param("pw: n/a", id="pw-na"),
        pytest.param("The token is valid for 3600s.", id="token-valid"),
        pytest.param("API key: see settings page", id="api-key-see"),
        pytest.param("the api key is 12345", id="api-key-short-number"),
        pytest.param("token: 2024-01-01T00:00:00Z", id="token-timestamp"),
        pytest.param("The secret key is rotated every 90 days.", id="secret-key-rotated"),
        pytest.param("the token is in ~/.config/gh/hosts.yml", id="token-path"),
        pytest.param("token: https://example.com/oauth/token", id="token-url"),
        pytest.param("your token is sk-...", id="token-truncated"),
    ],
)  # fmt: skip
def test_prose_about_keys_is_not_a_finding(text: str) -> None:
    assert found(text) == set()
