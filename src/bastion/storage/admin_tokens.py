"""Admin tokens in the store: records and the repository (hash only, never the secret)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from bastion.storage.changes import ChangeKind, record_change
from bastion.storage.database import Database
from bastion.storage.tables import AdminTokenRow


@dataclass(frozen=True, slots=True)
class StoredAdminToken:
    """An admin token as stored: who it speaks for, its role, hash and lifecycle."""

    token_id: str
    subject: str
    role: str
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        """Whether the token still authenticates at ``now``."""
        return self.revoked_at is None or now < self.revoked_at


class AdminTokenRepository:
    """Create, read, list and revoke admin tokens."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def create(self, token: StoredAdminToken) -> None:
        """Store a new token (its id must be unused)."""
        async with self._database.transaction("admin token create") as session:
            session.add(
                AdminTokenRow(
                    token_id=token.token_id,
                    subject=token.subject,
                    role=token.role,
                    secret_hash=token.secret_hash,
                    created_at=token.created_at,
                    revoked_at=token.revoked_at,
                )
            )
            await record_change(session, ChangeKind.ADMIN_TOKENS)

    async def get(self, token_id: str) -> StoredAdminToken | None:
        """The token with this id, revoked or not, or None."""
        async with self._database.transaction("admin token lookup") as session:
            row = await session.get(AdminTokenRow, token_id)
            return None if row is None else _from_row(row)

    async def list(self, *, include_revoked: bool = False) -> builtins.list[StoredAdminToken]:
        """Tokens oldest first; revoked ones only with ``include_revoked``."""
        statement = select(AdminTokenRow).order_by(AdminTokenRow.created_at, AdminTokenRow.token_id)
        if not include_revoked:
            statement = statement.where(AdminTokenRow.revoked_at.is_(None))
        async with self._database.transaction("admin token list") as session:
            return [_from_row(row) for row in (await session.scalars(statement)).all()]

    async def count_active(self, role: str) -> int:
        """How many unrevoked tokens carry ``role`` (bootstrap checks use it)."""
        statement = select(func.count()).where(
            AdminTokenRow.role == role, AdminTokenRow.revoked_at.is_(None)
        )
        async with self._database.transaction("admin token count") as session:
            return int(await session.scalar(statement) or 0)

    async def revoke(self, token_id: str, at: datetime) -> bool:
        """Revoke the token at ``at``; False when it is unknown or already revoked."""
        statement = (
            update(AdminTokenRow)
            .where(AdminTokenRow.token_id == token_id, AdminTokenRow.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(AdminTokenRow.token_id)
        )
        async with self._database.transaction("admin token revoke") as session:
            if (await session.execute(statement)).first() is None:
                return False
            await record_change(session, ChangeKind.ADMIN_TOKENS)
        return True


def _from_row(row: AdminTokenRow) -> StoredAdminToken:
    return StoredAdminToken(
        token_id=row.token_id,
        subject=row.subject,
        role=row.role,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
