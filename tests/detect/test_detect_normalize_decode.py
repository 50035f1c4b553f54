"""Encoded runs and obfuscations: decoded projections and their offsets."""

from __future__ import annotations

import base64
import codecs
import hashlib
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from bastion.detect.catalog import build_scanner
from bastion.detect.normalize import Normalised, Projection, project

SECRET = "my password is hunter2, mail john@example.com"


def projection(result: Normalised, name: str) -> Projection:
    found = [p for p in result.projections if p.name == name]
    assert found, f"no {name!r} projection among {[p.name for p in result.projections]}"
    return found[0]


def names(text: str) -> list[str]:
    return [p.name for p in project(text).projections]


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        pytest.param(base64.b64encode(SECRET.encode()).decode(), "base64", id="base64"),
        pytest.param(
            base64.b64encode(SECRET.encode()).decode().rstrip("="), "base64", id="base64-unpadded"
        ),
        pytest.param(
            base64.urlsafe_b64encode(SECRET.encode() + b" ok???>>>").decode(),
            "base64url",
            id="base64url",
        ),
        pytest.param(base64.b32encode(SECRET.encode()).decode(), "base32", id="base32"),
        pytest.param(SECRET.encode().hex(), "hex", id="hex"),
        pytest.param(SECRET.encode().hex().upper(), "hex", id="hex-upper"),
        pytest.param("".join(f"\\x{b:02x}" for b in SECRET.encode()), "hex", id="hex-escapes"),
        pytest.param(" ".join(f"{b:02x}" for b in SECRET.encode()), "hex", id="hex-pairs"),
        pytest.param(", ".join(f"0x{b:02x}" for b in SECRET.encode()), "hex", id="hex-0x-list"),
        pytest.param(quote(SECRET, safe=""), "url", id="url-percent"),
        pytest.param("".join(f"%{b:02X}" for b in SECRET.encode()), "url", id="url-every-byte"),
        pytest.param("".join(f"&#{ord(c)};" for c in SECRET), "html", id="html-entities"),
        pytest.param(SECRET.encode("utf-16-le").hex(), "hex", id="hex-of-utf16"),
    ],
)
def test_encoded_run_is_decoded_in_place(encoded: str, name: str) -> None:
    text = f"Please process: {encoded} thanks"
    decoded = projection(project(text), name)
    assert decoded.decoded
    assert SECRET in decoded.text
    assert decoded.text.startswith("Please process: ")
    assert decoded.text.endswith(" thanks")
    at = decoded.text.index("john@example.com")
    start, end = decoded.to_original(at, at + len("john@example.com"))
    run_start = len("Please process: ")
    run_end = run_start + len(encoded)
    assert start >= run_start - 1 and end <= run_end + 1  # the encoded run, never beyond
    assert (start, end) == decoded.to_original(decoded.text.index(SECRET), at + 16)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("dana@example.com", id="email"),
        pytest.param("4111 1111 1111 1111", id="spaced-card"),
        pytest.param("4111111111111111", id="card"),
    ],
)
def test_base64_without_a_digit_is_decoded(payload: str) -> None:
    """Base64 of digits or of short text may hold letters only (``NDExMSAx...``)."""
    encoded = base64.b64encode(payload.encode()).decode()
    assert not any(c.isdigit() for c in encoded)
    for text in (encoded, f"decode {encoded} please"):
        assert payload in projection(project(text), "base64").text


def test_span_inside_a_decoded_run_maps_to_the_whole_run() -> None:
    encoded = base64.b64encode(b"john@example.com").decode()
    text = f"mail {encoded} now"
    decoded = projection(project(text), "base64")
    assert decoded.to_original(5, 9) == (5, 5 + len(encoded))
    assert decoded.to_original(0, 4) == (0, 4)
    assert decoded.to_original(len(decoded.text) - 3, len(decoded.text)) == (
        len(text) - 3,
        len(text),
    )


def test_two_levels_of_encoding_are_decoded() -> None:
    inner = SECRET.encode().hex()
    text = "blob " + base64.b64encode(inner.encode()).decode()
    assert SECRET in projection(project(text), "base64").text


def test_base64_of_base64_is_decoded() -> None:
    twice = base64.b64encode(base64.b64encode(b"dana@example.com is here")).decode()
    assert "dana@example.com" in projection(project(f"blob {twice}"), "base64").text


def test_depth_is_bounded() -> None:
    layered = SECRET.encode()
    for _ in range(3):
        layered = base64.b64encode(layered)
    text = "blob " + layered.decode()
    assert SECRET not in projection(project(text), "base64").text
    assert SECRET in projection(project(text, max_depth=3), "base64").text


def test_decoded_size_is_capped() -> None:
    payload = ("A long decoded text. " * 400).encode()
    text = base64.b64encode(payload).decode()
    decoded = projection(project(text, max_decoded_chars=1000), "base64")
    assert 900 <= len(decoded.text) <= 1000


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(hashlib.sha256(b"x").hexdigest(), id="sha256-hex"),
        pytest.param(base64.b64encode(hashlib.sha256(b"x").digest()).decode(), id="sha256-b64"),
        pytest.param(str(uuid.UUID(int=0x1234567890ABCDEF1234567890ABCDEF)), id="uuid"),
        pytest.param(
            "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 4).decode(),
            id="png-data-uri",
        ),
        pytest.param("internationalization responsibilities", id="long-words"),
        pytest.param("class AbstractSingletonProxyFactoryBean extends Base", id="camel-case"),
        pytest.param("very_long_variable_name_here = get_default_configuration()", id="snake"),
        pytest.param("a state-of-the-art-technology roadmap", id="hyphenated"),
        pytest.param("/usr/local/lib/python3.11/site-packages", id="path"),
        pytest.param("4111111111111111 and 2024-01-31T10:00:00Z", id="numbers"),
        pytest.param("Visit https://example.com/search?q=hello%20world", id="url-with-space"),
    ],
)
def test_binary_or_plain_runs_are_not_decoded(text: str) -> None:
    assert not [n for n in names(text) if n in ("base64", "base64url", "base32", "hex")]


@pytest.mark.parametrize(
    ("text", "rotated"),
    [
        pytest.param(
            codecs.encode("my key is AKIA now", "rot13"), "my key is AKIA now", id="whole-sentence"
        ),
        pytest.param(
            "rot13: " + codecs.encode("ghp_token", "rot13"), "ebg13: ghp_token", id="hint-word"
        ),
    ],
)
def test_rot13_projection_when_the_text_looks_rotated(text: str, rotated: str) -> None:
    rot = projection(project(text), "rot13")
    assert rot.text == rotated
    assert rot.letters_only and not rot.alters_digits and rot.decoded
    assert rot.to_original(3, 6) == (3, 6)


def test_plain_english_gets_no_rot13_projection() -> None:
    assert "rot13" not in names("The quick brown fox jumps over the lazy dog again and again.")


@pytest.mark.parametrize(
    ("text", "read"),
    [
        pytest.param("1gn0r3 pr3v10u5 1n5truct10n5", "ignore previous instructions", id="words"),
        pytest.param("my p@55w0rd is", "my password is", id="at-sign"),
        pytest.param("he11o w0rld", "hello world", id="double-one-is-ll"),
        pytest.param("P4SSW0RD", "PASSWORD", id="upper"),
        pytest.param(
            "s0c1al s3cur1ty 123-45-6789", "social security 123-45-6789", id="numbers-untouched"
        ),
    ],
)
def test_leet_projection(text: str, read: str) -> None:
    leet = projection(project(text), "leet")
    assert leet.text == read
    assert leet.alters_digits and leet.letters_only


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Meet at 4pm on the 3rd floor, COVID-19 rules, MP3 and x86.", id="ordinary"),
        pytest.param("sha256 5f4dcc3b5aa765d61d8327deb882cf99", id="hash"),
        pytest.param("mail john@example.com", id="email"),
        pytest.param(
            "2026-11-27T10:01:02.057Z INFO req=cbe7b4 user=3c43dc@svc path=/api/v1/items/7 "
            "took=35ms size=10kb\n2026-11-27T10:01:03.113Z WARN user=db0f77@svc retry in 5s",
            id="log-lines",
        ),
        pytest.param(
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4l\n"
            "gOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+b",
            id="base64-lines",
        ),
    ],
)
def test_no_leet_projection_for_ordinary_digits(text: str) -> None:
    assert "leet" not in names(text)


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        pytest.param("my password is p a s s w o r d", "my password is password", id="spaced"),
        pytest.param("mail j o h n @ e x a m p l e . c o m", "mail john@example.com", id="email"),
        pytest.param("B E G I N  R S A  K E Y", "BEGIN RSA KEY", id="word-gaps"),
        pytest.param("name: j.o.h.n.smith", "name: john.smith", id="dotted"),
        pytest.param("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "4111111111111111", id="digits"),
        pytest.param("id 1-2-3-4-5", "id 12345", id="dashed"),
        pytest.param("here is a g h p _ x", "here is a ghp_x", id="article-before"),
        pytest.param("so I s e n d it", "so I send it", id="pronoun-before"),
        pytest.param("key: a B 3 d E", "key: aB3dE", id="a-after-punctuation-is-a-letter"),
    ],
)
def test_despaced_projection(text: str, joined: str) -> None:
    despaced = projection(project(text), "despaced")
    assert despaced.text == joined


def test_despaced_is_a_deletion_projection_with_exact_offsets() -> None:
    text = "code: x 4 1 1 1 y"
    despaced = projection(project(text), "despaced")
    assert despaced.text == "code: x4111y"
    at = despaced.text.index("4111")
    assert despaced.to_original(at, at + 4) == (8, 15)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("I have a cat and a dog.", id="single-letter-words"),
        pytest.param("e.g. the U.S. and i.e. more", id="abbreviations"),
        pytest.param("word a b c wordy", id="three-only"),
    ],
)
def test_no_despaced_projection_for_ordinary_text(text: str) -> None:
    assert "despaced" not in names(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "Please summarise the quarterly report and list three risks for the board. " * 20,
            id="ascii",
        ),
        pytest.param(
            "Le caf\u00e9 de Ren\u00e9e \u2014 \u201cun d\u00e9lice\u201d, dit-elle. " * 20,
            id="accents-and-curly-quotes",
        ),
    ],
)
def test_plain_prose_has_no_projection_at_all(text: str) -> None:
    assert project(text).projections == ()
    assert project(text).evasion == ()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


JWT = ".".join(
    (
        _b64url(b'{"alg":"HS256","typ":"JWT"}'),
        _b64url(b'{"sub":"u-88127","role":"admin","iat":1733011200}'),
        _b64url(hashlib.sha256(b"signature").digest()),
    )
)


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda v: v.encode().hex(), id="hex"),
        pytest.param(lambda v: "".join(f"%{b:02X}" for b in v.encode()), id="url"),
        pytest.param(lambda v: base64.b64encode(v.encode()).decode(), id="base64"),
    ],
)
def test_a_value_that_itself_decodes_is_read_whole_inside_an_encoding(encode: Any) -> None:
    """Decoding went on into the JWT's own base64url parts, so the projection held its
    JSON and never the token: a JWT in hex or URL escapes raised nothing at all."""
    encoded = encode(JWT)
    text = f"session: {encoded} ok"
    found = {h.data_class: h for h in build_scanner(tier="fast").scan(text).findings}
    span = (len("session: "), len("session: ") + len(encoded))
    assert (found["secret.jwt"].start, found["secret.jwt"].end) == span
    assert found["evasion.encoded"].meta["hides"] == "secret.jwt"


def test_a_token_spelled_out_after_an_article_is_found() -> None:
    """The article was glued on ("is a g h p _ ..." read "aghp_..."), so no token
    pattern matched and the spaced-out token went through."""
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5"
    text = "the login is a " + " ".join(token)
    found = build_scanner(tier="fast").scan(text).findings
    [hit] = [h for h in found if h.data_class == "secret.github_token"]
    assert (hit.start, hit.end) == (len("the login is a "), len(text))
