"""Admin identities: ``bat_`` tokens with a role, and the CLI's rule for who is acting.

Admin tokens and gateway keys have different prefixes and live in different tables,
so neither can ever authenticate as the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bastion.errors import AuthenticationFailed, NotFound, PermissionDenied
from bastion.identity.keys import ADMIN_TOKEN, hash_secret, secret_matches
from bastion.storage.admin_tokens import AdminTokenRepository, StoredAdminToken
from bastion.storage.database import Database

LOCAL_ADMIN_SUBJECT = "local-admin"
BOOTSTRAP_SUBJECT = "bootstrap"
ADMIN_AUTH_FAILED_MESSAGE = (
    "Invalid admin token. Pass a token created with `bastion admin-token create` "
    "(it looks like bat_<id>_<secret>) via BASTION_ADMIN_TOKEN or --admin-token-file."
)
_NO_SECRET = "0" * 32


class AdminRole(StrEnum):
    """What an admin identity may do (CONTRACT.md §1)."""

    ADMIN = "admin"  # everything
    SECURITY = "security"  # keys, exceptions, policy
    AUDITOR = "auditor"  # read only
    APP_OWNER = "app_owner"  # keys whose owner is its subject


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    """Who is acting on governed state, and with which role; ``apps``: apps an app
    owner signed in with OIDC owns by its provider's claim (beside its keys' apps)."""

    subject: str
    role: AdminRole
    token_id: str | None = None
    apps: frozenset[str] = frozenset()

    def may_manage_keys_of(self, owner: str | None) -> bool:
        """Whether this identity may create, revoke or rotate a key with this ``owner``."""
        if self.role in (AdminRole.ADMIN, AdminRole.SECURITY):
            return True
        return self.role is AdminRole.APP_OWNER and owner == self.subject

    def may_see_key_of(self, owner: str | None) -> bool:
        """Whether this identity may see a key's metadata (never its secret)."""
        return self.role is not AdminRole.APP_OWNER or owner == self.subject


RECORD_READERS = (AdminRole.ADMIN, AdminRole.SECURITY, AdminRole.AUDITOR)
"""Roles that may read call records (audit search, replay, explain a recorded call)."""
GOVERNORS = (AdminRole.ADMIN, AdminRole.SECURITY)
"""Roles that activate policies and decide policy exceptions."""


def require_role(actor: AdminIdentity, roles: tuple[AdminRole, ...], what: str) -> None:
    """PermissionDenied unless ``actor`` has one of ``roles``; ``what`` says what for."""
    if actor.role not in roles:
        allowed = " or ".join(role.value for role in roles)
        raise PermissionDenied(
            f"{actor.subject!r} has the role {actor.role.value!r} and may not {what}; "
            f"that needs {allowed}",
            code="admin_role_required",
        )


def generate_admin_token() -> tuple[str, str]:
    """A new admin token as ``(token_id, plaintext)``."""
    return ADMIN_TOKEN.generate()


def new_admin_token(subject: str, role: AdminRole) -> tuple[StoredAdminToken, str]:
    """A token record to store (hash only) and the plaintext to show once."""
    token_id, plaintext = generate_admin_token()
    parsed = ADMIN_TOKEN.parse(plaintext)
    assert parsed is not None
    record = StoredAdminToken(
        token_id=token_id,
        subject=subject,
        role=role.value,
        secret_hash=hash_secret(parsed[1]),
        created_at=datetime.now(UTC),
    )
    return record, plaintext


class AdminAuthenticator:
    """Verifies admin tokens against the store (no cache: admin calls are rare)."""

    def __init__(self, repo: AdminTokenRepository) -> None:
        self._repo = repo

    async def verify(self, presented: str | None) -> AdminIdentity:
        """The identity of a valid, unrevoked token; AuthenticationFailed otherwise."""
        parsed = ADMIN_TOKEN.parse(presented)
        if parsed is None:
            secret_matches(_NO_SECRET, None)
            raise AuthenticationFailed(ADMIN_AUTH_FAILED_MESSAGE)
        token_id, secret = parsed
        stored = await self._repo.get(token_id)
        matched = secret_matches(secret, stored.secret_hash if stored else None)
        if not matched or stored is None or not stored.is_active(datetime.now(UTC)):
            raise AuthenticationFailed(ADMIN_AUTH_FAILED_MESSAGE)
        try:
            role = AdminRole(stored.role)
        except ValueError as exc:
            raise AuthenticationFailed(ADMIN_AUTH_FAILED_MESSAGE) from exc
        return AdminIdentity(subject=stored.subject, role=role, token_id=stored.token_id)


async def resolve_cli_admin(
    token: str | None, db: Database, *, allow_bootstrap: bool = False
) -> AdminIdentity:
    """Who a CLI command acts as (CONTRACT.md §1).

    A token (from ``BASTION_ADMIN_TOKEN`` or ``--admin-token-file``) is verified. Without
    one, embedded SQLite acts as ``local-admin``: whoever can run commands on the host
    can read the database file anyway. PostgreSQL requires a token, except when
    ``allow_bootstrap`` is set and no admin token exists yet: that is how the first
    admin token of a fresh deployment is created.
    """
    if token:
        return await AdminAuthenticator(AdminTokenRepository(db)).verify(token.strip())
    if db.is_sqlite:
        return AdminIdentity(subject=LOCAL_ADMIN_SUBJECT, role=AdminRole.ADMIN)
    repo = AdminTokenRepository(db)
    if allow_bootstrap and await repo.count_active(AdminRole.ADMIN.value) == 0:
        return AdminIdentity(subject=BOOTSTRAP_SUBJECT, role=AdminRole.ADMIN)
    raise AuthenticationFailed(
        "This command changes governed state in a shared PostgreSQL store and needs an "
        "admin token: set BASTION_ADMIN_TOKEN or pass --admin-token-file."
    )


def _require_admin(actor: AdminIdentity) -> None:
    if actor.role is not AdminRole.ADMIN:
        raise PermissionDenied(
            f"managing admin tokens needs the admin role; {actor.subject!r} has "
            f"{actor.role.value!r}",
            code="admin_role_required",
        )


async def create_admin_token(
    repo: AdminTokenRepository, subject: str, role: AdminRole, *, actor: AdminIdentity
) -> tuple[StoredAdminToken, str]:
    """Store a new token for ``subject`` with ``role``; returns it and its plaintext."""
    _require_admin(actor)
    if not subject.strip():
        raise ValueError("an admin token needs a subject")
    record, plaintext = new_admin_token(subject.strip(), role)
    await repo.create(record)
    return record, plaintext


async def revoke_admin_token(
    repo: AdminTokenRepository, token_id: str, *, actor: AdminIdentity
) -> None:
    """Revoke ``token_id`` now; NotFound when unknown or already revoked."""
    _require_admin(actor)
    if not await repo.revoke(token_id, datetime.now(UTC)):
        raise NotFound(f"no active admin token with id {token_id[:64]!r}", code="token_not_found")
