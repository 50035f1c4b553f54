"""Who is signed in to the console, and signing them out: what ``bastion console
sessions`` / ``sign-out`` and the admin API's ``/console/sessions`` routes share, so
both list the same sessions and end them with the same role check and admin event.

A listed session names its holder, how it was opened, the role it was opened with and
when it opened, was last used and ends; never anything that would open it (the store
keeps only hashes of session ids, and not even those are listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bastion.console import session as kinds
from bastion.identity.admin import GOVERNORS, AdminIdentity, AdminRole, require_role
from bastion.identity.issuing import MAX_FIELD_CHARS
from bastion.storage.admin_tokens import AdminTokenRepository
from bastion.storage.console_sessions import ConsoleSessionRepository, StoredConsoleSession
from bastion.storage.database import Database
from bastion.storage.keys import KeyRepository, KeyStatus

if TYPE_CHECKING:
    from bastion.pipeline.admin_trail import AdminTrail

ALL_SESSIONS = "*"
"""The admin event's target when every session was ended."""
ADMIN_TOKEN, GATEWAY_KEY, OIDC = "admin_token", "gateway_key", "oidc"
"""How a session was opened, as listings name it."""
SIGN_OUT_ACTION = "console.sign_out"
LIST_ROLES: tuple[AdminRole, ...] = GOVERNORS
"""Who may see who is signed in."""
SIGN_OUT_ROLES: tuple[AdminRole, ...] = (AdminRole.ADMIN,)
"""Who may end other people's sessions."""
MAX_SUBJECT_CHARS = MAX_FIELD_CHARS
"""The longest subject a holder can have (an admin token's or an OIDC user's)."""
_OPENED_WITH = {kinds.ADMIN: ADMIN_TOKEN, kinds.GATEWAY_KEY: GATEWAY_KEY, kinds.OIDC: OIDC}


@dataclass(frozen=True, slots=True)
class ListedSession:
    """An open session as listed: who holds it, how it was opened (``ADMIN_TOKEN``...),
    the admin token or gateway key id behind it, the role it was opened with (None: a
    gateway key's chat-only session, or an OIDC session opened before roles were
    stored), when it opened, was last used (None: not since roles were stored) and ends."""

    subject: str
    opened_with: str
    held_by: str | None
    role: str | None
    opened_at: datetime
    last_seen_at: datetime | None
    expires_at: datetime


async def holders(db: Database, subject: str) -> set[str]:
    """What the store names as the holder of ``subject``'s sessions: an admin token's
    are stored under its id, an OIDC user's under the subject, a gateway key's under
    the key id."""
    tokens = await AdminTokenRepository(db).list(include_revoked=True)
    return {subject, *(t.token_id for t in tokens if t.subject == subject)}


async def open_sessions(
    db: Database, actor: AdminIdentity, now: datetime, subject: str | None = None
) -> list[ListedSession]:
    """The sessions open at ``now`` (``subject``: one holder's, as ``holders``), oldest
    first, for ``actor`` (who needs a ``LIST_ROLES`` role). Sessions of an admin token or
    gateway key that no longer authenticates are left out: the console refuses them,
    they ended with it."""
    require_role(actor, LIST_ROLES, "list console sessions")
    chosen = None if subject is None else await holders(db, subject)
    stored = await ConsoleSessionRepository(db).list_open(now, subjects=chosen)
    return await _described(db, stored, now)


async def _described(
    db: Database, stored: list[StoredConsoleSession], now: datetime
) -> list[ListedSession]:
    tokens = {t.token_id: t for t in await AdminTokenRepository(db).list(include_revoked=True)}
    keys = KeyRepository(db)
    listed: list[ListedSession] = []
    for session in stored:
        subject, held_by, role = session.subject, None, session.role
        if session.kind == kinds.ADMIN:
            token = tokens.get(session.subject)
            if token is None or not token.is_active(now):
                continue
            # a session opened before roles were stored: the token's, which never changes
            subject, held_by, role = token.subject, token.token_id, role or token.role
        elif session.kind == kinds.GATEWAY_KEY:
            key = await keys.get(session.subject)
            if key is None or key.status(now) not in (KeyStatus.ACTIVE, KeyStatus.GRACE):
                continue
            held_by, role = key.key_id, None
        listed.append(
            ListedSession(
                subject=subject,
                opened_with=_OPENED_WITH.get(session.kind, session.kind),
                held_by=held_by,
                role=role,
                opened_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
            )
        )
    return listed


async def sign_out(
    db: Database,
    trail: AdminTrail,
    actor: AdminIdentity,
    subject: str | None,
    now: datetime,
) -> int:
    """End every session (``subject`` None) or one holder's now, as ``actor`` (who needs
    a ``SIGN_OUT_ROLES`` role), recorded as a ``console.sign_out`` admin event; how many of the
    sessions were open. Their browsers see the login page from their next request on."""
    require_role(actor, SIGN_OUT_ROLES, "sign out console sessions")
    chosen = None if subject is None else await holders(db, subject)
    ended = await ConsoleSessionRepository(db).close_all(now, subjects=chosen)
    await trail.record(actor, SIGN_OUT_ACTION, subject or ALL_SESSIONS, {"ended": ended})
    return ended
