"""Gateway keys in the store: records, lifecycle state, and the repository.

Only the secret's hash is ever stored. Every write appends ``keys`` to the change feed
in the same transaction, so running gateways drop cached verifications promptly.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import or_, select, update

from bastion.storage.changes import ChangeKind, record_change
from bastion.storage.database import Database
from bastion.storage.tables import ApiKeyRow


class KeyStatus(StrEnum):
    """Where a key is in its lifecycle at a given moment."""

    ACTIVE = "active"
    GRACE = "grace"  # rotated, old secret still accepted until grace_until
    REPLACED = "replaced"  # rotated, grace over
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A gateway key as stored: principal fields, models, secret hash and lifecycle."""

    key_id: str
    name: str
    secret_hash: str
    created_at: datetime
    created_by: str
    environment: str = "dev"
    user: str | None = None
    app: str | None = None
    team: str | None = None
    roles: tuple[str, ...] = ()
    owner: str | None = None
    models: tuple[str, ...] = ("*",)
    trust_end_user: bool = False
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    replaced_by: str | None = None
    grace_until: datetime | None = None

    def status(self, now: datetime) -> KeyStatus:
        """The key's state at ``now``; only ACTIVE and GRACE keys authenticate."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return KeyStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return KeyStatus.EXPIRED
        if self.replaced_by is not None:
            if self.grace_until is not None and now < self.grace_until:
                return KeyStatus.GRACE
            return KeyStatus.REPLACED
        return KeyStatus.ACTIVE


class KeyRepository:
    """Create, read, revoke and rotate gateway keys."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def create(self, key: StoredKey) -> None:
        """Store a new key (its id must be unused)."""
        async with self._database.transaction("key create") as session:
            session.add(_to_row(key))
            await record_change(session, ChangeKind.KEYS)

    async def get(self, key_id: str) -> StoredKey | None:
        """The key with this id, in any state, or None."""
        async with self._database.transaction("key lookup") as session:
            row = await session.get(ApiKeyRow, key_id)
            return None if row is None else _from_row(row)

    async def list(
        self, *, include_revoked: bool = False, now: datetime | None = None
    ) -> builtins.list[StoredKey]:
        """Keys oldest first; without ``include_revoked`` only keys that still authenticate
        or merely expired (revoked keys and rotated keys past their grace are hidden)."""
        statement = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.key_id)
        if not include_revoked:
            statement = statement.where(
                ApiKeyRow.revoked_at.is_(None),
                or_(
                    ApiKeyRow.replaced_by.is_(None),
                    ApiKeyRow.grace_until > (now or datetime.now(UTC)),
                ),
            )
        async with self._database.transaction("key list") as session:
            rows = (await session.scalars(statement)).all()
            return [_from_row(row) for row in rows]

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke the key at ``at``; False when it is unknown or already revoked."""
        statement = (
            update(ApiKeyRow)
            .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(ApiKeyRow.key_id)
        )
        async with self._database.transaction("key revoke") as session:
            result = await session.execute(statement)
            if result.first() is None:
                return False
            await record_change(session, ChangeKind.KEYS)
        return True

    async def rotate(self, key_id: str, replacement: StoredKey, grace_until: datetime) -> bool:
        """Store ``replacement`` and mark ``key_id`` replaced by it, accepted until
        ``grace_until``, in one transaction. False when the old key is unknown,
        revoked or already replaced (nothing is written then)."""
        statement = (
            update(ApiKeyRow)
            .where(
                ApiKeyRow.key_id == key_id,
                ApiKeyRow.revoked_at.is_(None),
                ApiKeyRow.replaced_by.is_(None),
            )
            .values(replaced_by=replacement.key_id, grace_until=grace_until)
            .returning(ApiKeyRow.key_id)
        )
        async with self._database.transaction("key rotate") as session:
            result = await session.execute(statement)
            if result.first() is None:
                return False
            session.add(_to_row(replacement))
            await record_change(session, ChangeKind.KEYS)
        return True


def _to_row(key: StoredKey) -> ApiKeyRow:
    return ApiKeyRow(
        key_id=key.key_id,
        name=key.name,
        user=key.user,
        app=key.app,
        team=key.team,
        environment=key.environment,
        roles=list(key.roles),
        owner=key.owner,
        models=list(key.models),
        trust_end_user=key.trust_end_user,
        secret_hash=key.secret_hash,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        replaced_by=key.replaced_by,
        grace_until=key.grace_until,
        created_by=key.created_by,
    )


def _from_row(row: ApiKeyRow) -> StoredKey:
    return StoredKey(
        key_id=row.key_id,
        name=row.name,
        user=row.user,
        app=row.app,
        team=row.team,
        environment=row.environment,
        roles=tuple(row.roles),
        owner=row.owner,
        models=tuple(row.models),
        trust_end_user=row.trust_end_user,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        replaced_by=row.replaced_by,
        grace_until=row.grace_until,
        created_by=row.created_by,
    )
