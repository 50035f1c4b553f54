"""Key material and signed tokens: PEM blocks (whole block as the span), base64-wrapped
PEM, PuTTY files, age identities, WireGuard keys, JWTs, password hashes."""

from __future__ import annotations

import base64
import json
import random
import string
from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns

THRESHOLD = 0.5
B64 = string.ascii_letters + string.digits + "+/"
CRYPT = "./" + string.ascii_letters + string.digits
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def r(alphabet: str, n: int, seed: int = 11) -> str:
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def hits(text: str) -> list[Hit]:
    return [h for h in engine().scan(text) if h.score >= THRESHOLD]


def pem(label: str, lines: int = 6) -> str:
    body = "\n".join(r(B64, 64, seed) for seed in range(lines))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


@pytest.mark.parametrize(
    ("label", "key_type"),
    [
        pytest.param("RSA PRIVATE KEY", "rsa", id="rsa"),
        pytest.param("EC PRIVATE KEY", "ec", id="ec"),
        pytest.param("PRIVATE KEY", "pkcs8", id="pkcs8"),
        pytest.param("ENCRYPTED PRIVATE KEY", "encrypted", id="encrypted"),
        pytest.param("OPENSSH PRIVATE KEY", "openssh", id="openssh"),
        pytest.param("PGP PRIVATE KEY BLOCK", "pgp", id="pgp"),
    ],
)
def test_pem_private_keys_span_the_whole_block(label: str, key_type: str) -> None:
    block = pem(label)
    text = f"Here is the key:\n{block}\nthanks"
    (hit,) = hits(text)
    assert hit.data_class == "secret.private_key"
    assert text[hit.start : hit.end] == block
    assert hit.meta["key_type"] == key_type


def test_pem_pasted_as_string_concatenation_and_json_escapes() -> None:
    lines = [r(B64, 64, seed) for seed in range(3)]
    concatenated = '"-----BEGIN RSA PRIVATE KEY-----" +\n' + "".join(
        f'"{line}" +\n' for line in lines
    )
    escaped = '{"private_key": "-----BEGIN PRIVATE KEY-----\\n' + "\\n".join(lines) + '\\n"}'
    assert [h.data_class for h in hits(concatenated)] == ["secret.private_key"]
    assert [h.data_class for h in hits(escaped)] == ["secret.private_key"]


def test_encrypted_pem_headers_stay_inside_the_block() -> None:
    block = pem("RSA PRIVATE KEY").replace(
        "KEY-----\n", "KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D\n\n", 1
    )
    (hit,) = hits(block)
    assert hit.end == len(block)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("-----BEGIN RSA PRIVATE KEY-----", id="header-only"),
        pytest.param("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----", id="elided"),
        pytest.param(pem("CERTIFICATE"), id="certificate"),
        pytest.param(pem("PUBLIC KEY"), id="public-key"),
    ],
)
def test_pem_without_private_key_material_is_not_found(text: str) -> None:
    assert hits(text) == []


def test_base64_wrapped_pem_is_found() -> None:
    wrapped = base64.b64encode(pem("RSA PRIVATE KEY").encode()).decode()
    text = f"PRIVATE_KEY_B64={wrapped}"
    assert [(h.data_class, h.value) for h in hits(text)] == [("secret.private_key", wrapped)]
    certificate = base64.b64encode(pem("CERTIFICATE").encode()).decode()
    assert hits(f"CERT_B64={certificate}") == []


def test_putty_key_file_needs_its_private_section() -> None:
    public = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me@example.com\n"
        f"Public-Lines: 2\n{r(B64, 64)}\n{r(B64, 20)}\n"
    )
    full = public + f"Private-Lines: 1\n{r(B64, 44, 2)}\nPrivate-MAC: {r('0123456789abcdef', 64)}\n"
    assert hits(public) == []
    assert [h.data_class for h in hits(full)] == ["secret.private_key"]


def test_age_identity_and_wireguard_keys() -> None:
    age = "AGE-SECRET-KEY-1" + r(BECH32, 58)
    wg = r(B64, 43) + "="
    found = {(h.data_class, h.value) for h in hits(f"{age}\n[Interface]\nPrivateKey = {wg}\n")}
    assert {("secret.age_secret_key", age), ("secret.wireguard_key", wg)} <= found
    assert hits(f"[Peer]\nPublicKey = {wg}\n") == []


def test_jwt_requires_a_json_header() -> None:
    header = b64url({"alg": "HS256", "typ": "JWT"})
    payload = b64url({"sub": "1234", "role": "admin"})
    token = f"{header}.{payload}.{r(B64, 43).replace('+', '-').replace('/', '_')}"
    assert [(h.data_class, h.value) for h in hits(f"Bearer-less {token} here")] == [
        ("secret.jwt", token)
    ]
    not_json = f"eyJ{r(string.ascii_letters, 20)}.{payload}.{r(string.ascii_letters, 30)}"
    assert [h for h in hits(not_json) if h.data_class == "secret.jwt"] == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        pytest.param("$2b$12$" + r(CRYPT, 53), "bcrypt", id="bcrypt"),
        pytest.param("$1$" + r(CRYPT, 8) + "$" + r(CRYPT, 22), "md5crypt", id="md5crypt"),
        pytest.param("$5$rounds=5000$" + r(CRYPT, 16) + "$" + r(CRYPT, 43), "sha256crypt",
                     id="sha256crypt"),
        pytest.param("$6$" + r(CRYPT, 16) + "$" + r(CRYPT, 86), "sha512crypt", id="sha512crypt"),
        pytest.param("$8$" + r(CRYPT, 14) + "$" + r(CRYPT, 43), "cisco", id="cisco-type8"),
        pytest.param("$krb5asrep$23$user@EXAMPLE.COM:" + r("0123456789abcdef", 32) + "$"
                     + r("0123456789abcdef", 200), "krb5asrep", id="krb5asrep"),
    ],
)  # fmt: skip
def test_password_hashes(value: str, kind: str) -> None:
    (hit,) = hits(f"root:{value}:19000:0:99999:7:::")
    assert (hit.data_class, hit.value, hit.meta["kind"]) == ("secret.password_hash", value, kind)


def test_hash_lookalikes_are_not_found() -> None:
    assert hits("costs $2 and $12 each; $5$ is cheap") == []
