"""The governed chat's gateway key, kept by the browser only: sealed with AES-GCM under a
key derived from the keyring's signing key, bound to the console session it was given
in, in an HttpOnly, SameSite=Strict cookie scoped to the chat's path.

The server stores nothing: a new session, logging out or a rotated signing key makes the
cookie unreadable, and the chat asks for the key again.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHAT_KEY_COOKIE = "bastion_chat_key"
PURPOSE = "bastion.console.chat-key"
MAX_KEY_CHARS = 200
_VERSION = "v1"
_NONCE_BYTES = 12
_MAX_COOKIE_CHARS = 512


def looks_like_gateway_key(value: str) -> bool:
    """Whether ``value`` has a gateway key's shape (``bst_<id>_<secret>``), nothing more."""
    return (
        value.startswith("bst_")
        and len(value) <= MAX_KEY_CHARS
        and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
    )


class ChatKeySealer:
    """Seals a gateway key for one console session and opens it again."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the chat key cookie needs a 32-byte key")
        self._aead = AESGCM(secret[:32])

    @staticmethod
    def _bound_to(session_id: str) -> bytes:
        return f"{PURPOSE}\x00{session_id}".encode()

    def seal(self, session_id: str, key: str) -> str:
        """The cookie value carrying ``key`` for the session ``session_id``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, key.encode("ascii"), self._bound_to(session_id))
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def open(self, session_id: str, cookie: str | None) -> str | None:
        """The key in ``cookie`` when it was sealed for this session; else None."""
        if not cookie or len(cookie) > _MAX_COOKIE_CHARS:
            return None
        version, _, body = cookie.partition(".")
        if version != _VERSION:
            return None
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            plain = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._bound_to(session_id)
            )
        except (binascii.Error, ValueError, InvalidTag, UnicodeEncodeError):
            return None
        key = plain.decode("ascii", errors="replace")
        return key if looks_like_gateway_key(key) else None
