"""Vendors' documented example credentials, and the shapes of obvious filler values.

A documented dummy (AWS's ``AKIAIOSFODNN7EXAMPLE``, the RFC 7617 ``Aladdin`` header)
has the real format and is still reported, because a prompt that carries one is shaped
like a leak and policies may want to see it; the finding says ``known_dummy`` so a
policy or a reviewer can tell it apart. The same holds for vendor-prefixed tokens
whose body is filler (``xoxb-0000…``, ``tvly-xxxx…``): the prefix makes them
unambiguous, the body makes them harmless.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.secrets.entropy import longest_run, sequential_fraction

DUMMY: Mapping[str, str] = {"known_dummy": "true"}

KNOWN_DUMMIES: frozenset[str] = frozenset(
    {
        # AWS documentation (IAM user guide, SigV4 test suite)
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAI44QH8DHBEXAMPLE",
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        # Stripe API reference and quick-starts
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
        "sk_test_26PHem9AhJZvU623DfE1x4sd",
        "pk_test_TYooMQauvdEDq54NiTphI7jx",
        "rk_test_26PHem9AhJZvU623DfE1x4sd",
        # GitHub documentation (user-to-server and refresh token examples)
        "ghu_16C7e42F292c69C2E7C10c838347Ae178B4a",
        "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c3CE1ccbF66C46812d16D5B1A9Dc86A1498",
        # Azure Storage emulator (Azurite) well-known account key
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        # RFC 7617 / RFC 2617 Basic credentials ("Aladdin:open sesame") and RFC 6750 bearer
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "mF_9.B5f-4.1JqM",
        # jwt.io's default token
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9l"
        "IiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        # kubeadm's documented bootstrap token
        "abcdef.0123456789abcdef",
        # Mailgun, Telegram Bot API and Okta documentation
        "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
        "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "00QCjAl4MlV-WPXM-ABCDEFGHIJKL-0HmjFx-vbGua",
        # Google Maps / Firebase documentation
        "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        # MongoDB connection-string documentation
        "D1fficultP%40ssw0rd",
    }
)

# Passwords that documentation and folklore use as the example: RFC 7617's
# "Aladdin:open sesame", xkcd 936's pair, bash.org's "hunter2", the session secret of
# express-session's README ("keyboard cat") and redis.conf's "requirepass foobared".
# Compared folded, with "_", "-" and " " treated alike. Hard-coded, they are still
# credentials in shape.
KNOWN_DUMMY_PASSWORDS: frozenset[str] = frozenset(
    {
        "open sesame",
        "opensesame",
        "correct horse battery staple",
        "correcthorsebatterystaple",
        "tr0ub4dor&3",
        "hunter2",
        "keyboard cat",
        "foobared",
    }
)

_FILLER = frozenset("xX0*.#-_=")


def is_filler(body: str) -> bool:
    """Whether a token body is filler: one repeated character, x/0/* runs, or counting."""
    if not body:
        return True
    size = len(body)
    if sum(1 for char in body if char in _FILLER) >= 0.6 * size:
        return True
    if longest_run(body) >= max(6, size // 2):
        return True
    return size >= 12 and sequential_fraction(body) >= 0.6


def is_mask(body: str) -> bool:
    """Whether a value only stands in for one: mostly mask characters (``xxxx``,
    ``****``, ``0000``) or one character repeated. Unlike a counting run (``123456``,
    ``abcdef``), which people really do choose as a password, a mask is never a value."""
    if not body:
        return True
    size = len(body)
    return sum(1 for char in body if char in _FILLER) >= 0.6 * size or longest_run(body) >= max(
        6, size // 2
    )


def is_dummy_password(value: str) -> bool:
    """One of the folklore example passwords (``open_sesame``, ``hunter2``…)."""
    folded = value.lower().replace("_", " ").replace("-", " ")
    return folded in KNOWN_DUMMY_PASSWORDS


# Words that example passwords are made of: the name of the field itself, and the
# words tutorials wrap around it ("mysecret", "SuperSecret123", "test_password",
# "P@ssw0rd", "foobar"). Deliberately without "admin", "root" or "guest": a default
# account's password is a real weak credential, not a placeholder.
_EXAMPLE_WORDS: frozenset[str] = frozenset(
    {
        "password", "passwd", "pass", "pwd", "passphrase", "secret", "secrets", "my",
        "your", "our", "the", "a", "some", "super", "very", "top", "test", "testing",
        "tester", "example", "sample", "dummy", "demo", "fake", "mock", "foo", "bar",
        "baz", "qux", "foobar", "changeme", "default", "new", "old", "temp", "tmp",
    }
)  # fmt: skip
# Leetspeak that turns those words into "P@ssw0rd" and "$ecret".
_LEET = str.maketrans({"@": "a", "4": "a", "$": "s", "5": "s", "0": "o", "3": "e", "1": "i"})
_LONGEST_WORD = max(len(word) for word in _EXAMPLE_WORDS)


def _example_words_only(letters: str) -> bool:
    """Whether ``letters`` splits entirely into ``_EXAMPLE_WORDS`` (a short DP)."""
    reachable = [True] + [False] * len(letters)
    for end in range(1, len(letters) + 1):
        reachable[end] = any(
            reachable[start] and letters[start:end] in _EXAMPLE_WORDS
            for start in range(max(0, end - _LONGEST_WORD), end)
        )
    return reachable[-1]


def is_example_password(value: str) -> bool:
    """A password a tutorial would write, not one someone chose: a folklore example
    (``open_sesame``, ``hunter2``), or the field's own name and placeholder words glued
    together, in any case, in leetspeak, with separators and trailing digits or ``!``
    (``password``, ``super$ecret``, ``P@ssw0rd1!``, ``my-test-secret``).

    Runs only on short candidates next to a password keyword, after the placeholder
    checks; a match is reported and marked ``known_dummy``.
    """
    if is_dummy_password(value):
        return True
    folded = value.lower().rstrip("!?.#*0123456789")
    if not 3 <= len(folded) <= 40:
        return False
    letters = "".join(c for c in folded.translate(_LEET) if c not in "_-. ")
    return letters.isalpha() and letters.isascii() and _example_words_only(letters)


def is_known_dummy(value: str) -> bool:
    """A documented example value, an AWS-style ``EXAMPLE`` marker, or a filler body."""
    if value in KNOWN_DUMMIES or "EXAMPLE" in value or is_dummy_password(value):
        return True
    return is_filler(value)


def dummy_meta(value: str, body: str | None = None) -> Mapping[str, str]:
    """``{"known_dummy": "true"}`` for a dummy (checking ``body`` for filler), else ``{}``."""
    if value in KNOWN_DUMMIES or "EXAMPLE" in value or is_filler(value if body is None else body):
        return DUMMY
    return {}
