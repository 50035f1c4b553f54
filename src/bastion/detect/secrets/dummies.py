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
# "Aladdin:open sesame", xkcd 936's pair and bash.org's "hunter2". Compared folded, with
# "_", "-" and " " treated alike. Hard-coded, they are still credentials in shape.
KNOWN_DUMMY_PASSWORDS: frozenset[str] = frozenset(
    {
        "open sesame",
        "opensesame",
        "correct horse battery staple",
        "correcthorsebatterystaple",
        "tr0ub4dor&3",
        "hunter2",
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


def is_dummy_password(value: str) -> bool:
    """One of the folklore example passwords (``open_sesame``, ``hunter2``…)."""
    folded = value.lower().replace("_", " ").replace("-", " ")
    return folded in KNOWN_DUMMY_PASSWORDS


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
