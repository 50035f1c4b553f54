"""Policy versions in the store: uploads by content digest, activations, rollback.

A version is one uploaded policy file, found again by the SHA-256 of its UTF-8 content,
so uploading the same bytes twice finds the same version. The latest activation names
the active version of every replica (``activate``, ``rollback`` or ``seed``); each one
appends ``policy`` to the change feed in the same transaction, so running gateways load
it within a poll interval.

Concurrent writers (replicas seeding at start, ``serve --watch`` in several workers)
are made harmless by conditional inserts: a seed only when nothing is active, an
activation only when the version is not already the active one, a rollback only when
the activation it undoes is still the latest. PostgreSQL takes a transaction-scoped
advisory lock first, so each condition reads what committed before it; SQLite runs one
writer at a time.

The repository stores text; parsing and compiling it is the caller's job.
"""

from __future__ import annotations

import hashlib
import logging
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, func, insert, literal, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.errors import Conflict, InvalidRequest, NotFound
from bastion.storage.changes import ChangeKind, record_change
from bastion.storage.database import Database
from bastion.storage.tables import PolicyActivationRow, PolicyVersionRow, UtcDateTime

logger = logging.getLogger(__name__)

MIN_DIGEST_PREFIX = 8
_POLICY_LOCK_ID = 0x62A5_9011
_HEX = frozenset(string.hexdigits.lower())


class ActivationReason(StrEnum):
    """Why a version became active."""

    ACTIVATE = "activate"
    ROLLBACK = "rollback"
    SEED = "seed"


def content_digest(content: str) -> str:
    """The SHA-256 (hex) of ``content`` as UTF-8: a version's identity."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One uploaded policy file."""

    id: int
    name: str
    label: str
    digest: str
    content: str
    source: str | None
    uploaded_by: str
    uploaded_at: datetime

    @property
    def version(self) -> str:
        """``name@label+sha256[:12]``, as in ``x-bastion-policy``."""
        return f"{self.name}@{self.label}+{self.digest[:12]}"


@dataclass(frozen=True, slots=True)
class PolicyActivation:
    """A version made active: by whom, when and why."""

    id: int
    version: PolicyVersion
    activated_by: str
    activated_at: datetime
    reason: ActivationReason


class PolicyRepository:
    """Upload, activate, roll back and read policy versions."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def upload(
        self,
        content: str,
        *,
        name: str,
        label: str,
        source: str | None,
        by: str,
        now: datetime | None = None,
    ) -> PolicyVersion:
        """Store ``content`` as a version, or find the version that has it already."""
        async with self._database.transaction("policy upload") as session:
            return await self._upload(session, content, name, label, source, by, now)

    async def activate(
        self, version_id: int, *, by: str, reason: ActivationReason = ActivationReason.ACTIVATE
    ) -> PolicyActivation | None:
        """Make version ``version_id`` the active one; None when it already is (nothing
        is recorded then). NotFound when there is no such version."""
        by = _checked_subject(by)
        async with self._database.transaction("policy activate") as session:
            await _lock(session)
            if await session.get(PolicyVersionRow, version_id) is None:
                raise NotFound(f"no policy version {version_id}", code="policy_not_found")
            activation = await _activate_if(
                session, version_id, by, reason, _not_active(version_id)
            )
        if activation is not None:
            _log_activation(activation)
        return activation

    async def upload_and_activate(
        self,
        content: str,
        *,
        name: str,
        label: str,
        source: str | None,
        by: str,
        reason: ActivationReason = ActivationReason.ACTIVATE,
    ) -> tuple[PolicyVersion, PolicyActivation | None]:
        """Upload ``content`` and activate it in one transaction; the activation is None
        when that version was active already."""
        by = _checked_subject(by)
        async with self._database.transaction("policy activate") as session:
            await _lock(session)
            version = await self._upload(session, content, name, label, source, by, None)
            activation = await _activate_if(
                session, version.id, by, reason, _not_active(version.id)
            )
        if activation is not None:
            _log_activation(activation)
        return version, activation

    async def seed(
        self, content: str, *, name: str, label: str, source: str | None, by: str
    ) -> PolicyActivation:
        """Upload ``content`` and activate it (reason ``seed``) unless some version is
        active already; returns the activation in force afterwards (another replica's
        seed when it won the race)."""
        by = _checked_subject(by)
        async with self._database.transaction("policy seed") as session:
            await _lock(session)
            version = await self._upload(session, content, name, label, source, by, None)
            condition = ~exists(select(PolicyActivationRow.id))
            seeded = await _activate_if(session, version.id, by, ActivationReason.SEED, condition)
            activation = seeded or await _latest(session)
        assert activation is not None  # the seed, or the activation that beat it
        if seeded is not None:
            _log_activation(seeded)
        return activation

    async def rollback(self, *, by: str) -> PolicyActivation:
        """Activate again the version that was active before the current one (reason
        ``rollback``). Conflict when there is none, or when another activation
        happened meanwhile."""
        by = _checked_subject(by)
        async with self._database.transaction("policy rollback") as session:
            await _lock(session)
            rows = (
                await session.execute(
                    select(PolicyActivationRow.id, PolicyActivationRow.version_id).order_by(
                        PolicyActivationRow.id.desc()
                    )
                )
            ).all()
            if not rows:
                raise Conflict(
                    "no policy is active, so there is nothing to roll back; activate one "
                    "with `bastion policy activate FILE`",
                    code="policy_rollback_unavailable",
                )
            current_id, current_version = rows[0]
            target = next(
                (row.version_id for row in rows if row.version_id != current_version), None
            )
            if target is None:
                raise Conflict(
                    "only one policy version was ever active, so there is none to roll back "
                    "to; activate another with `bastion policy activate FILE`",
                    code="policy_rollback_unavailable",
                )
            still_latest = select(func.max(PolicyActivationRow.id)).scalar_subquery() == current_id
            activation = await _activate_if(
                session, int(target), by, ActivationReason.ROLLBACK, still_latest
            )
        if activation is None:
            raise Conflict(
                "another policy was activated meanwhile; look at `bastion policy history` "
                "and try again",
                code="policy_changed",
            )
        _log_activation(activation)
        return activation

    async def active(self) -> PolicyActivation | None:
        """The latest activation (the active version), or None when none was made."""
        async with self._database.transaction("policy read") as session:
            return await _latest(session)

    async def history(
        self, limit: int = 20, *, before: int | None = None
    ) -> list[PolicyActivation]:
        """The latest ``limit`` activations, newest first, with their versions; with
        ``before``, those older than activation ``before`` (the next page)."""
        statement = (
            select(PolicyActivationRow, PolicyVersionRow)
            .join(PolicyVersionRow, PolicyVersionRow.id == PolicyActivationRow.version_id)
            .order_by(PolicyActivationRow.id.desc())
            .limit(max(1, limit))
        )
        if before is not None:
            statement = statement.where(PolicyActivationRow.id < before)
        async with self._database.transaction("policy history") as session:
            rows = (await session.execute(statement)).all()
        return [_activation(activation, version) for activation, version in rows]

    async def get(self, ref: str) -> PolicyVersion:
        """The version named by ``ref``: its id, a digest prefix of at least 8 hex
        digits, or ``name@label+digest``. NotFound or InvalidRequest otherwise."""
        ref = ref.strip()
        async with self._database.transaction("policy read") as session:
            if ref.isdigit():
                row = await session.get(PolicyVersionRow, int(ref))
                if row is None:
                    raise NotFound(f"no policy version {ref}", code="policy_not_found")
                return _version(row)
            prefix = ref.rpartition("+")[2].lower()
            if len(prefix) < MIN_DIGEST_PREFIX or not _HEX.issuperset(prefix):
                raise InvalidRequest(
                    f"{ref[:80]!r} names no policy version; give a version id, at least "
                    f"{MIN_DIGEST_PREFIX} hex digits of its digest, or name@label+digest "
                    "(see `bastion policy history`)",
                    param="ref",
                )
            statement = (
                select(PolicyVersionRow).where(PolicyVersionRow.digest.startswith(prefix)).limit(2)
            )
            found = (await session.scalars(statement)).all()
        if not found:
            raise NotFound(f"no policy version with digest {prefix}…", code="policy_not_found")
        if len(found) > 1:
            raise InvalidRequest(
                f"several policy versions have digests starting {prefix}; give more digits",
                param="ref",
            )
        version = _version(found[0])
        named, plus, _ = ref.rpartition("+")
        if plus and named != f"{version.name}@{version.label}":
            raise NotFound(
                f"{ref[:80]!r} does not match version {version.version}",
                code="policy_not_found",
            )
        return version

    async def _upload(
        self,
        session: AsyncSession,
        content: str,
        name: str,
        label: str,
        source: str | None,
        by: str,
        now: datetime | None,
    ) -> PolicyVersion:
        digest = content_digest(content)
        values: dict[str, Any] = {
            "name": _checked_text(name, "name"),
            "label": _checked_text(label, "label"),
            "digest": digest,
            "content": content,
            "source": source,
            "uploaded_by": _checked_subject(by),
            "uploaded_at": now or datetime.now(UTC),
        }
        # Insert-or-ignore writes first: on SQLite that takes the write lock, so what
        # this transaction reads next is current.
        dialect = session.get_bind().dialect.name
        make = postgresql_insert if dialect == "postgresql" else sqlite_insert
        await session.execute(make(PolicyVersionRow).values(**values).on_conflict_do_nothing())
        row = await session.scalar(
            select(PolicyVersionRow).where(PolicyVersionRow.digest == digest)
        )
        assert row is not None
        return _version(row)


def _not_active(version_id: int) -> Any:
    """SQL for "the latest activation is not of ``version_id``" (true when none exists)."""
    latest = (
        select(PolicyActivationRow.version_id)
        .order_by(PolicyActivationRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, -1) != version_id


async def _lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _POLICY_LOCK_ID}
        )


async def _activate_if(
    session: AsyncSession,
    version_id: int,
    by: str,
    reason: ActivationReason,
    condition: Any,
) -> PolicyActivation | None:
    """Insert an activation when ``condition`` holds (one statement); None otherwise."""
    at = datetime.now(UTC)
    chosen = select(
        literal(version_id),
        literal(by),
        literal(at, UtcDateTime()),
        literal(reason.value),
    ).where(condition)
    statement = (
        insert(PolicyActivationRow)
        .from_select(["version_id", "activated_by", "activated_at", "reason"], chosen)
        .returning(PolicyActivationRow.id)
    )
    inserted = (await session.execute(statement)).scalar()
    if inserted is None:
        return None
    await record_change(session, ChangeKind.POLICY)
    version = await session.get(PolicyVersionRow, version_id)
    assert version is not None
    return PolicyActivation(int(inserted), _version(version), by, at, reason)


async def _latest(session: AsyncSession) -> PolicyActivation | None:
    statement = (
        select(PolicyActivationRow, PolicyVersionRow)
        .join(PolicyVersionRow, PolicyVersionRow.id == PolicyActivationRow.version_id)
        .order_by(PolicyActivationRow.id.desc())
        .limit(1)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else _activation(row[0], row[1])


def _checked_subject(subject: str) -> str:
    subject = subject.strip()
    if not subject:
        raise InvalidRequest("the acting admin subject is empty", param="subject")
    return subject


def _checked_text(value: str, name: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidRequest(f"a policy version needs a {name}", param=name)
    return value


def _log_activation(activation: PolicyActivation) -> None:
    logger.info(
        "policy %s (version %d) activated by %s (%s)",
        activation.version.version,
        activation.version.id,
        activation.activated_by,
        activation.reason.value,
    )


def _version(row: PolicyVersionRow) -> PolicyVersion:
    return PolicyVersion(
        id=int(row.id),
        name=row.name,
        label=row.label,
        digest=row.digest,
        content=row.content,
        source=row.source,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )


def _activation(row: PolicyActivationRow, version: PolicyVersionRow) -> PolicyActivation:
    return PolicyActivation(
        id=int(row.id),
        version=_version(version),
        activated_by=row.activated_by,
        activated_at=row.activated_at,
        reason=ActivationReason(row.reason),
    )
