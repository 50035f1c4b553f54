"""Content encryption: AES-256-GCM under the keyring's content key.

Retained content in mode ``encrypted`` is sealed as ``nonce (12 bytes) || ciphertext ||
tag`` under the active content key; the key id is stored beside it so content sealed
before a rotation still opens with the retired key the ring keeps. The associated data
binds a ciphertext to its request id and mode: a sealed blob moved onto another record
does not open. Without the key file, the blob is unreadable.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.crypto.keyring import Keyring
from bastion.errors import BastionError

_NONCE_BYTES = 12


class ContentUnreadable(BastionError):
    """Sealed content cannot be opened: its key is not in the keyring, or it was altered."""


def seal(ring: Keyring, plaintext: bytes, associated: bytes) -> tuple[str, bytes]:
    """(content key id, nonce || ciphertext) of ``plaintext`` under the active content key."""
    key = ring.active("content")
    nonce = os.urandom(_NONCE_BYTES)
    return key.id, nonce + AESGCM(key.secret[:32]).encrypt(nonce, plaintext, associated)


def unseal(ring: Keyring, key_id: str, blob: bytes, associated: bytes) -> bytes:
    """The plaintext of a sealed blob; ContentUnreadable without the key or when altered."""
    key = ring.key(key_id)
    if key is None or key.purpose != "content":
        raise ContentUnreadable(
            f"content key {key_id} is not in this keyring; decrypting needs the keyring "
            "(or a restored backup) that holds it"
        )
    if len(blob) <= _NONCE_BYTES:
        raise ContentUnreadable("sealed content is truncated")
    try:
        return AESGCM(key.secret[:32]).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], associated)
    except InvalidTag:
        raise ContentUnreadable(
            "sealed content does not decrypt: it was altered or belongs to another record"
        ) from None
