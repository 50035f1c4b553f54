"""Console sessions: a signed cookie that names a random session id, the admin token (or,
for an employee's chat-only session, the gateway key id; for an OIDC sign-in, the user)
it was opened with and when it ends, plus the CSRF tokens tied to it.

The cookie is signed with a key derived from the keyring's signing key, so every worker
of a gateway (and every replica sharing the keyring) can check it; nothing secret is in
it. A session is open only while the shared store holds a row under the SHA-256 of its
id (``ConsoleSessions``): logging out deletes the row, so every worker and replica
refuses the cookie from the next request on, with no cache in between. Each request also
looks the token up again (a gateway key is verified again), so revoking it ends its
sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bastion.storage.console_sessions import ConsoleSessionRepository, StoredConsoleSession

SESSION_COOKIE = "bastion_console"
LOGIN_COOKIE = "bastion_console_login"
DEFAULT_TTL_S = 8 * 3600.0
LOGIN_TTL_S = 3600.0
_VERSION = "v1"
_KEY_VERSION = "k1"
"""The cookie version of a gateway-key (chat-only) session; ``_VERSION``: an admin token's."""
_OIDC_VERSION = "o1"
"""The cookie version of a session opened by an OIDC login (``token_id``: the user)."""
ADMIN = "admin"
GATEWAY_KEY = "key"
OIDC = "oidc"
_VERSIONS = {_VERSION: ADMIN, _KEY_VERSION: GATEWAY_KEY, _OIDC_VERSION: OIDC}
_MAX_COOKIE = 3800


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Session:
    """An open console session: its id, the admin token id (``kind`` ``admin``), the
    gateway key id (``kind`` ``key``: an employee's chat-only session) or the signed-in
    OIDC user (``kind`` ``oidc``: subject, role and apps, url-safe base64) behind it,
    when it ends."""

    session_id: str
    token_id: str
    expires_at: float
    kind: str = ADMIN

    def __post_init__(self) -> None:
        if self.kind not in (ADMIN, GATEWAY_KEY, OIDC):
            raise ValueError("a session is opened with an admin token, a gateway key or OIDC")
        for part in (self.session_id, self.token_id):
            if not part or not all(c.isalnum() or c in "-_" for c in part):
                raise ValueError("session and token ids are url-safe base64 or base62")

    @property
    def id_hash(self) -> str:
        """The SHA-256 (hex) of the session id: what the store keeps instead of the id."""
        return hashlib.sha256(self.session_id.encode("ascii")).hexdigest()


class SessionSigner:
    """Issues and checks session cookies, login nonces and CSRF tokens with one key."""

    def __init__(self, key: bytes, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        if len(key) < 32:
            raise ValueError("the console session key needs at least 32 bytes")
        self._key = key
        self.ttl_s = ttl_s

    def _mac(self, *parts: str) -> str:
        message = b"\x00".join(part.encode("utf-8") for part in parts)
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def open(
        self, token_id: str, now: float | None = None, *, kind: str = ADMIN
    ) -> tuple[Session, str]:
        """A new session for ``token_id`` (a gateway key id when ``kind`` is ``key``) and
        its cookie value; ValueError when it would not fit in a cookie."""
        expires = int((now if now is not None else time.time()) + self.ttl_s)
        session = Session(_b64(secrets.token_bytes(24)), token_id, float(expires), kind)
        version = next(v for v, k in _VERSIONS.items() if k == kind)
        body = f"{version}.{session.session_id}.{token_id}.{expires}"
        cookie = f"{body}.{self._mac('session', body)}"
        if len(cookie) > _MAX_COOKIE:
            raise ValueError("the session would not fit in a cookie")
        return session, cookie

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie names, when its signature holds and its time has not run
        out (whether it was closed is the store's to say: ``ConsoleSessions.read``)."""
        if not cookie or len(cookie) > _MAX_COOKIE:
            return None
        body, _, mac = cookie.rpartition(".")
        parts = body.split(".")
        if len(parts) != 4 or parts[0] not in _VERSIONS or not parts[3].isdigit():
            return None
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        expires = float(parts[3])
        if expires <= (now if now is not None else time.time()):
            return None
        try:
            return Session(parts[1], parts[2], expires, _VERSIONS[parts[0]])
        except ValueError:
            return None

    def csrf_token(self, session: Session) -> str:
        """The synchronizer token every form of this session carries."""
        return self._mac("csrf", session.session_id)

    def csrf_matches(self, session: Session, presented: str | None) -> bool:
        """Whether a form's token belongs to this session (constant time)."""
        return presented is not None and hmac.compare_digest(presented, self.csrf_token(session))

    @staticmethod
    def login_nonce() -> str:
        """A random value for the login form's cookie."""
        return _b64(secrets.token_bytes(18))

    def login_token(self, nonce: str) -> str:
        """The login form's CSRF token, tied to the nonce in its cookie."""
        return self._mac("login", nonce)

    def login_matches(self, nonce: str | None, presented: str | None) -> bool:
        """Whether the login form's token belongs to the nonce cookie (constant time)."""
        if not nonce or presented is None or len(nonce) > 64:
            return False
        return hmac.compare_digest(presented, self.login_token(nonce))


class ConsoleSessions:
    """Sessions every worker and replica agrees on: a signed cookie (``SessionSigner``)
    that is open only while the shared store holds its id's hash. Storage failures are
    raised (StorageError): a session is never accepted without the store's word."""

    def __init__(self, signer: SessionSigner, repository: ConsoleSessionRepository) -> None:
        self.signer = signer
        self._repository = repository

    @property
    def ttl_s(self) -> float:
        """How long a session lasts after it opens."""
        return self.signer.ttl_s

    async def open(
        self,
        token_id: str,
        subject: str,
        *,
        kind: str = ADMIN,
        role: str | None = None,
        now: float | None = None,
    ) -> tuple[Session, str]:
        """A new session (stored) and its cookie; ValueError when it would not fit in a
        cookie. ``subject`` is who the store names as its holder, ``role`` the role it
        is opened with (None for a gateway key's chat-only session)."""
        opened = now if now is not None else time.time()
        session, cookie = self.signer.open(token_id, opened, kind=kind)
        created = datetime.fromtimestamp(opened, UTC)
        await self._repository.open(
            StoredConsoleSession(
                id_hash=session.id_hash,
                kind=kind,
                subject=subject,
                created_at=created,
                expires_at=datetime.fromtimestamp(session.expires_at, UTC),
                role=role,
                last_seen_at=created,  # logging in is its first use
            )
        )
        return session, cookie

    async def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The open session a cookie names: signed, not past its end, not logged out.
        Reading it is using it: the store notes when, at most once a minute."""
        at = now if now is not None else time.time()
        session = self.signer.read(cookie, at)
        if session is None:
            return None
        opened = await self._repository.use(session.id_hash, datetime.fromtimestamp(at, UTC))
        return session if opened else None

    async def close(self, session: Session) -> None:
        """End the session on every worker and replica (logout)."""
        await self._repository.close(session.id_hash)
