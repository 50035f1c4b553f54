"""Validators shared by the secret catalogues (``Pattern.validator`` hooks).

Each returns extra ``meta`` for an accepted candidate or None to drop it. Vendor
tokens with a distinctive prefix are never dropped for looking fake; they are marked
``known_dummy`` instead (see ``dummies``). Checksums that a vendor documents (GitHub
and npm: CRC32 of the random part, base62-encoded in the last six characters) are
reported as ``checksum=valid|invalid`` rather than used to reject, because example
and test tokens in the wild are often hand-made and still worth flagging.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Validator
from bastion.detect.secrets.dummies import (
    DUMMY,
    KNOWN_DUMMIES,
    dummy_meta,
    is_example_password,
    is_known_dummy,
)
from bastion.detect.secrets.entropy import sequential_fraction
from bastion.detect.secrets.values import (
    human_secret,
    is_code_reference,
    is_template,
    machine_secret,
    strip_quotes,
)

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def vendor(skip: int = 0, *, reject_filler: bool = False) -> Validator:
    """Accept a prefixed vendor token; mark it ``known_dummy`` when its body is filler.

    With ``reject_filler`` a counting filler (``a1b2c3…``, ``abcdef…``) drops the
    candidate instead, for formats recognised only by a keyword and an alphabet (legacy
    Azure DevOps PATs), where such a body is a documentation placeholder, not a leak.
    Formats with an exact layout (``…AZDO…`` at a fixed offset, hex then ``NRAL``) check
    the layout and keep fillers as ``known_dummy``.
    """

    def check(value: str) -> Mapping[str, str] | None:
        body = value[skip:]
        if reject_filler and value not in KNOWN_DUMMIES and sequential_fraction(body) >= 0.5:
            return None
        return dummy_meta(value, body)

    return check


def keyed(min_length: int = 8) -> Validator:
    """A value found next to a vendor keyword: drop templates, mark fillers as dummies."""

    def check(value: str) -> Mapping[str, str] | None:
        value = strip_quotes(value)
        if len(value) < min_length or is_template(value) or is_code_reference(value):
            return None
        return DUMMY if is_known_dummy(value) else ACCEPT

    return check


def _anonymous_login(value: str) -> bool:
    """``user@`` with no host: the conventional anonymous-FTP password (RFC 1635), an
    address given as courtesy rather than a secret."""
    name = value[:-1]
    return value.endswith("@") and name.replace(".", "").replace("-", "").isalnum()


def password(value: str) -> Mapping[str, str] | None:
    """A chosen password next to a password keyword (placeholders and variables dropped).

    Example passwords (``password = "password"``, ``super$ecret``, ``P@ssw0rd1``,
    ``open_sesame``) and counting runs (``123456``, ``abcdef123``) are still hard-coded
    credentials, often the real one of a demo or test deployment, so they are reported,
    marked ``known_dummy``. Masks (``****``, ``xxxx``) are not values and are dropped.
    """
    if not human_secret(value):
        return None
    literal = strip_quotes(value).strip()
    if _anonymous_login(literal):
        return None
    if is_example_password(literal) or is_known_dummy(literal) or _counting(literal):
        return DUMMY
    return ACCEPT


def _counting(value: str) -> bool:
    """Mostly a counting run: ``123456789``, ``01234abcde``."""
    return len(value) >= 6 and sequential_fraction(value) >= 0.6


def generated(min_length: int = 12) -> Validator:
    """A generated-looking value next to a generic keyword (``token``, ``api_key``)."""

    def check(value: str) -> Mapping[str, str] | None:
        if not machine_secret(value, min_length=min_length):
            return None
        return DUMMY if is_known_dummy(strip_quotes(value)) else ACCEPT

    return check


def base62_crc32(random_part: str) -> str:
    """GitHub's and npm's checksum: CRC32 of the random part, base62, padded to six."""
    number = zlib.crc32(random_part.encode("ascii", "replace"))
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    return digits.rjust(6, "0")


def crc32_tail(prefix_length: int) -> Validator:
    """Report whether the last six characters are the base62 CRC32 of the rest."""

    def check(value: str) -> Mapping[str, str] | None:
        body = value[prefix_length:]
        if len(body) < 7:
            return None
        state = "valid" if base62_crc32(body[:-6]) == body[-6:] else "invalid"
        meta = dict(dummy_meta(value, body))
        meta["checksum"] = state
        return meta

    return check


def b64decode_loose(value: str) -> bytes:
    """Decode base64 or base64url, tolerating missing padding; b"" when it is not base64."""
    cleaned = value.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return b""


def jwt_header(value: str) -> Mapping[str, str] | None:
    """A JWT whose first segment decodes to a JSON object naming ``alg`` or ``typ``."""
    header = b64decode_loose(value.split(".", 1)[0])
    if not header.startswith(b"{") or not (b'"alg"' in header or b'"typ"' in header):
        return None
    return DUMMY if value in KNOWN_DUMMIES else ACCEPT


def basic_credentials(value: str) -> Mapping[str, str] | None:
    """An HTTP Basic value: base64 of printable ``user:password`` with a real password."""
    raw = b64decode_loose(value)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    user, sep, secret = text.partition(":")
    if not sep or not user or not text.isprintable():
        return None
    if value in KNOWN_DUMMIES:
        return DUMMY
    return ACCEPT if human_secret(secret) else None


def pem_body(value: str) -> Mapping[str, str] | None:
    """A private key header followed by real key material (not just the header line).

    Reports the key type named in the header (``rsa``, ``openssh``, ``pgp``…; a bare
    ``PRIVATE KEY`` is PKCS#8).
    """
    begin = value.find("BEGIN")
    label_end = value.find("KEY", begin)
    if begin < 0 or label_end < 0:
        return None
    label = value[begin + 5 : label_end].replace("PRIVATE", "").strip()
    body = value[label_end + 3 :].removeprefix(" BLOCK").lstrip(" ").lstrip("-")
    body = body.split("----", 1)[0]
    material = sum(1 for char in body if char.isalnum() or char in "+/")
    if material < 40:
        return None
    return {"key_type": label.lower().replace(" ", "_") or "pkcs8"}


def base64_pem(value: str) -> Mapping[str, str] | None:
    """Base64 text whose decoded start is a PEM private-key header."""
    head = b64decode_loose(value[:120])
    return ACCEPT if b"PRIVATE KEY" in head else None
