"""Private key material and signed tokens: PEM blocks (RSA, EC, DSA, OpenSSH, PKCS#8,
encrypted, PGP), base64-wrapped PEM, PuTTY and SSH2 key files, age identities,
WireGuard keys, and JSON Web Tokens.

A PEM match spans the whole block when its END line is present, so redaction removes
the key material and not just the header; a header with no key material behind it (a
question about the format) is not reported. A JWT is reported only when its first
segment decodes to a JSON object naming ``alg`` or ``typ``, which rules out look-alike
dotted base64.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern
from bastion.detect.secrets.checks import base64_pem, jwt_header, pem_body
from bastion.detect.secrets.rows import END, END64, row

_PEM_LABEL = r"[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?"
# Key material: base64, whitespace, the quotes and "+" of a key pasted as string
# concatenation, "\n" escapes, and single dashes (Proc-Type, AES-128-CBC); a run of
# dashes ends it, which is how the END line is reached.
_PEM_BODY = r"(?:[A-Za-z0-9+/=\s\"'\\,:.;_]|-[A-Za-z0-9])*"


def _putty(value: str) -> Mapping[str, str] | None:
    """A PuTTY key file counts only with its private section."""
    return ACCEPT if "Private-Lines" in value else None


CLASSES: Mapping[str, str] = {
    "secret.private_key": "Private key: PEM, OpenSSH, PGP, PuTTY or SSH2 key file.",
    "secret.age_secret_key": "age encryption identity (AGE-SECRET-KEY-1…).",
    "secret.wireguard_key": "WireGuard private or preshared key in a config.",
    "secret.jwt": "JSON Web Token (signed bearer credential).",
}

PATTERNS: tuple[Pattern, ...] = (
    row(
        "pem",
        "private_key",
        r"-----BEGIN" + _PEM_LABEL + "-----" + _PEM_BODY + r"(?:-----END" + _PEM_LABEL + "-----)?",
        data_class="private_key",
        validator=pem_body,
    ),
    row(
        "pem",
        "private_key",
        r"\b(LS0tLS1CRUdJTi[A-Za-z0-9+/]{60,}={0,2})" + END64,
        data_class="private_key",
        group=1,
        validator=base64_pem,
        name="base64",
    ),
    row(
        "putty",
        "private_key",
        r"PuTTY-User-Key-File-[23]: [^\r\n]+(?:\r?\n[A-Za-z0-9+/=:@. \-]+)*",
        data_class="private_key",
        validator=_putty,
    ),
    row(
        "ssh2",
        "private_key",
        r"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----[A-Za-z0-9+/=\s\"':\\]*"
        r"(?:---- END SSH2 ENCRYPTED PRIVATE KEY ----)?",
        data_class="private_key",
        validator=pem_body,
    ),
    row(
        "age",
        "secret_key",
        r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b",
    ),
    row(
        "wireguard",
        "key",
        r"(?i:PrivateKey)\s*=\s*([A-Za-z0-9+/]{43}=)" + END64,
        group=1,
        name="private_key",
    ),
    row(
        "wireguard",
        "key",
        r"(?i:PresharedKey)\s*=\s*([A-Za-z0-9+/]{43}=)" + END64,
        group=1,
        name="preshared_key",
    ),
    row(
        "jwt",
        "token",
        r"\b(eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*)" + END,
        data_class="jwt",
        group=1,
        validator=jwt_header,
    ),
)
