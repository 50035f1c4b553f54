"""Bastion's token formats: generation, strict parsing, hashing, constant-time checks.

Gateway keys look like ``bst_<8-char id>_<32-char secret>`` and admin tokens
``bat_<8>_<32>``, both base62 (CONTRACT.md §1). The id is the lookup prefix; only a
hash of the secret is stored.

Why a plain SHA-256 and not a slow password hash (bcrypt, scrypt, argon2): the secret
is 32 characters drawn uniformly from 62 by ``secrets``, about 190 bits of entropy.
Slow hashes exist to make guessing *low-entropy* passwords expensive; guessing a
190-bit random value is infeasible at any hash speed, so a stolen hash table gives an
attacker nothing. A fast hash keeps verification within microseconds on every call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

BASE62 = string.ascii_letters + string.digits
_BASE62_SET = frozenset(BASE62)
ID_LENGTH = 8
SECRET_LENGTH = 32
# Compared against when a key id is unknown, so a miss costs the same as a hit.
DUMMY_SECRET_HASH = hashlib.sha256(b"bastion-dummy-secret-never-issued").hexdigest()


@dataclass(frozen=True, slots=True)
class TokenFormat:
    """One ``<prefix>_<id>_<secret>`` token family."""

    prefix: str

    @property
    def length(self) -> int:
        """The exact length of a well-formed token."""
        return len(self.prefix) + 1 + ID_LENGTH + 1 + SECRET_LENGTH

    def generate(self) -> tuple[str, str]:
        """A new ``(token_id, plaintext)`` from the OS's cryptographic random source."""
        token_id = "".join(secrets.choice(BASE62) for _ in range(ID_LENGTH))
        secret = "".join(secrets.choice(BASE62) for _ in range(SECRET_LENGTH))
        return token_id, f"{self.prefix}_{token_id}_{secret}"

    def parse(self, presented: object) -> tuple[str, str] | None:
        """``(token_id, secret)`` of a well-formed token, else None (never raises).

        The length is checked first, so the work is bounded whatever is presented.
        """
        if not isinstance(presented, str) or len(presented) != self.length:
            return None
        head = len(self.prefix)
        if not presented.startswith(self.prefix) or presented[head] != "_":
            return None
        id_start = head + 1
        id_end = id_start + ID_LENGTH
        if presented[id_end] != "_":
            return None
        token_id = presented[id_start:id_end]
        secret = presented[id_end + 1 :]
        if not (_BASE62_SET.issuperset(token_id) and _BASE62_SET.issuperset(secret)):
            return None
        return token_id, secret


GATEWAY_KEY = TokenFormat("bst")
ADMIN_TOKEN = TokenFormat("bat")


def generate_key() -> tuple[str, str]:
    """A new gateway key as ``(key_id, plaintext)``; show the plaintext once, store its hash."""
    return GATEWAY_KEY.generate()


def parse_key(presented: object) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed gateway key, else None."""
    return GATEWAY_KEY.parse(presented)


def hash_secret(secret: str) -> str:
    """The stored form of a token secret: SHA-256, hex (see the module docstring)."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time check of ``secret`` against a stored hash; None compares to a dummy."""
    expected = DUMMY_SECRET_HASH if stored_hash is None else stored_hash
    matches = hmac.compare_digest(hash_secret(secret), expected)
    return matches and stored_hash is not None
