"""Keyring backups: the keyring file encrypted under a passphrase, safe to store off-host.

Losing the keyring loses every pseudonym mapping, fingerprint match, checkpoint
signature check and every piece of ``encrypted`` content, so it must be backed up; a
plain copy of it is as sensitive as the keys themselves. A backup is JSON: the key ids
and purposes in clear (so an operator sees what it covers), the keyring itself sealed
with AES-256-GCM under a key derived from the passphrase with scrypt (N=2^15, r=8,
p=1; a fresh random salt per backup).
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bastion.crypto.keyring import Keyring
from bastion.errors import ConfigError

FORMAT = "bastion-keyring-backup"
_VERSION = 1
_SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}
MIN_PASSPHRASE_CHARS = 12


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def backup_keyring(ring: Keyring, passphrase: str) -> bytes:
    """The passphrase-encrypted backup document of ``ring``."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ConfigError(f"the backup passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _derive(passphrase, salt, **_SCRYPT)
    sealed = AESGCM(key).encrypt(nonce, ring.to_json(), FORMAT.encode())
    document = {
        "format": FORMAT,
        "version": _VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "keys": [{"id": k.id, "purpose": k.purpose, "created": k.created} for k in ring.keys],
        "kdf": {"name": "scrypt", **_SCRYPT, "salt": base64.b64encode(salt).decode()},
        "cipher": "aes-256-gcm",
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    return json.dumps(document, indent=2).encode() + b"\n"


def restore_keyring(raw: bytes, passphrase: str, origin: str) -> Keyring:
    """The keyring inside a backup; ConfigError for a wrong passphrase or a damaged file."""
    try:
        document: dict[str, Any] = json.loads(raw)
        if document.get("format") != FORMAT or document.get("version") != _VERSION:
            raise ValueError("not a Bastion keyring backup")
        kdf = document["kdf"]
        if kdf.get("name") != "scrypt":
            raise ValueError(f"unsupported key derivation {kdf.get('name')!r}")
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(document["nonce"], validate=True)
        sealed = base64.b64decode(document["ciphertext"], validate=True)
        key = _derive(passphrase, salt, int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{origin}: not a usable keyring backup ({exc})") from exc
    try:
        plain = AESGCM(key).decrypt(nonce, sealed, FORMAT.encode())
    except InvalidTag:
        raise ConfigError(f"{origin}: wrong passphrase, or the backup was altered") from None
    return Keyring.from_json(plain, origin)
