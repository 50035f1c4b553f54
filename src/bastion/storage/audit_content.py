"""Retained call content in the store: content by salted digest, the fingerprints of
its subjects, legal holds, purge and per-subject erasure.

Content lives apart from the chained metadata (``audit_events``, ``call_records``):
deleting it never touches the hash chain. Purge and erasure skip content under an
active legal hold (by app, team or request id) and report what they kept.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bastion.errors import InvalidRequest, NotFound
from bastion.storage.database import Database
from bastion.storage.tables import AuditContentRow, AuditContentSubjectRow, LegalHoldRow

HoldScope = Literal["app", "team", "request"]
HOLD_SCOPES: tuple[HoldScope, ...] = ("app", "team", "request")
_BATCH = 500  # rows deleted per transaction
_MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class StoredContent:
    """One call's retained content as stored.

    ``payload`` is JSON text (modes ``redacted`` and ``full``) or the base64 of the
    AES-GCM blob (``encrypted``, under content key ``key_id``). ``digest`` is the salted
    digest the chained record names. ``fingerprints`` are the keyed fingerprints of the
    values found in the call (filled on insert; on read only by :meth:`for_request`).
    """

    digest: str
    request_id: str
    created_at: float
    mode: str
    payload: str
    key_id: str | None = None
    app: str | None = None
    team: str | None = None
    truncated: bool = False
    fingerprints: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A hold on the content of an app, a team or one request."""

    id: str
    scope: HoldScope
    value: str
    reason: str
    created_by: str
    created_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True, slots=True)
class Purge:
    """How many calls' content a purge deleted, and how many a legal hold kept."""

    deleted: int = 0
    held: int = 0


@dataclass(frozen=True, slots=True)
class Erasure:
    """The request ids whose content an erasure deleted, and those a legal hold kept."""

    deleted: tuple[str, ...] = ()
    held: tuple[str, ...] = ()


class AuditContentRepository:
    """Write and read ``audit_content``, ``audit_content_subjects``, ``audit_legal_holds``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def insert_many(self, items: Sequence[StoredContent]) -> None:
        """Store content and its subjects in one transaction; known digests are skipped."""
        if not items:
            return
        make: Any = sqlite.insert if self._database.is_sqlite else postgresql.insert
        rows = [
            {
                "digest": item.digest,
                "request_id": item.request_id,
                "created_at": item.created_at,
                "mode": item.mode,
                "key_id": item.key_id,
                "app": item.app,
                "team": item.team,
                "truncated": item.truncated,
                "payload": item.payload,
            }
            for item in items
        ]
        subjects = [
            {"fingerprint": fingerprint, "digest": item.digest}
            for item in items
            for fingerprint in dict.fromkeys(item.fingerprints)
        ]
        async with self._database.transaction("audit content insert") as session:
            await session.execute(make(AuditContentRow).on_conflict_do_nothing(), rows)
            if subjects:
                await session.execute(
                    make(AuditContentSubjectRow).on_conflict_do_nothing(), subjects
                )

    async def for_request(self, request_id: str) -> StoredContent | None:
        """The content retained for ``request_id`` (the newest, should there be two)."""
        statement = (
            select(AuditContentRow)
            .where(AuditContentRow.request_id == request_id)
            .order_by(AuditContentRow.created_at.desc())
            .limit(1)
        )
        async with self._database.transaction("audit content lookup") as session:
            row = await session.scalar(statement)
            if row is None:
                return None
            fingerprints = await session.scalars(
                select(AuditContentSubjectRow.fingerprint)
                .where(AuditContentSubjectRow.digest == row.digest)
                .order_by(AuditContentSubjectRow.fingerprint)
            )
            return _content(row, tuple(fingerprints))

    async def count(self) -> int:
        """How many calls have content retained."""
        async with self._database.transaction("audit content count") as session:
            return int(await session.scalar(select(func.count(AuditContentRow.digest))) or 0)

    async def expired(self, before: float) -> Purge:
        """What :meth:`purge` would do now: content it would delete, content held."""
        expired = AuditContentRow.created_at < before
        total = select(func.count(AuditContentRow.digest)).where(expired)
        async with self._database.transaction("audit content expired") as session:
            held = int(await session.scalar(total.where(_held())) or 0)
            everything = int(await session.scalar(total) or 0)
        return Purge(everything - held, held)

    async def purge(self, before: float) -> Purge:
        """Delete content created before ``before`` (epoch seconds) that no active hold
        covers; held content past the window is counted, not deleted."""
        expired = AuditContentRow.created_at < before
        deleted = await self._delete_where(expired)
        async with self._database.transaction("audit content held") as session:
            held = await session.scalar(select(func.count(AuditContentRow.digest)).where(expired))
        return Purge(len(deleted), int(held or 0))

    async def find_subject(self, fingerprints: Sequence[str]) -> Erasure:
        """What :meth:`erase` would do now: the calls it would erase, those held."""
        if not fingerprints:
            return Erasure()
        subject = _carrying(fingerprints)
        return Erasure(
            await self._request_ids(subject, ~_held()), await self._request_ids(subject, _held())
        )

    async def erase(self, fingerprints: Sequence[str]) -> Erasure:
        """Delete the content of every call whose findings carry one of ``fingerprints``
        (per-subject erasure); content under an active hold is reported, not deleted."""
        if not fingerprints:
            return Erasure()
        subject = _carrying(fingerprints)
        deleted = await self._delete_where(subject)
        return Erasure(deleted, await self._request_ids(subject, _held()))

    async def _request_ids(self, *conditions: ColumnElement[bool]) -> tuple[str, ...]:
        statement = (
            select(AuditContentRow.request_id)
            .where(*conditions)
            .order_by(AuditContentRow.created_at)
        )
        async with self._database.transaction("audit content lookup") as session:
            return tuple((await session.scalars(statement)).all())

    async def _delete_where(self, condition: ColumnElement[bool]) -> tuple[str, ...]:
        deleted: list[str] = []
        while True:
            statement = (
                select(AuditContentRow.digest, AuditContentRow.request_id)
                .where(condition, ~_held())
                .order_by(AuditContentRow.created_at)
                .limit(_BATCH)
            )
            async with self._database.transaction("audit content delete") as session:
                batch = (await session.execute(statement)).all()
                digests = [digest for digest, _ in batch]
                if digests:
                    await session.execute(
                        delete(AuditContentSubjectRow).where(
                            AuditContentSubjectRow.digest.in_(digests)
                        )
                    )
                    await session.execute(
                        delete(AuditContentRow).where(AuditContentRow.digest.in_(digests))
                    )
            deleted.extend(request_id for _, request_id in batch)
            if len(batch) < _BATCH:
                return tuple(deleted)

    # --- legal holds ---

    async def add_hold(
        self, scope: HoldScope, value: str, reason: str, created_by: str, now: datetime
    ) -> LegalHold:
        """Place a hold; content it covers outlives its retention window until released."""
        if scope not in HOLD_SCOPES:
            raise InvalidRequest(f"a hold's scope is one of {', '.join(HOLD_SCOPES)}")
        if not value.strip():
            raise InvalidRequest(f"a {scope} hold needs the {scope} it covers")
        if not reason.strip():
            raise InvalidRequest("a hold needs a reason (e.g. the matter or ticket it is for)")
        hold = LegalHold(
            f"hold_{secrets.token_hex(8)}",
            scope,
            value.strip(),
            reason.strip()[:_MAX_REASON],
            created_by,
            now,
        )
        async with self._database.transaction("legal hold add") as session:
            session.add(
                LegalHoldRow(
                    id=hold.id,
                    scope=hold.scope,
                    value=hold.value,
                    reason=hold.reason,
                    created_by=hold.created_by,
                    created_at=hold.created_at,
                )
            )
        return hold

    async def release_hold(self, hold_id: str, released_by: str, now: datetime) -> LegalHold:
        """Release an active hold (its content is purged on the next run if expired)."""
        async with self._database.transaction("legal hold release") as session:
            result: Any = await session.execute(
                update(LegalHoldRow)
                .where(LegalHoldRow.id == hold_id, LegalHoldRow.released_at.is_(None))
                .values(released_by=released_by, released_at=now)
            )
            row = await session.get(LegalHoldRow, hold_id)
            if row is None:
                raise NotFound(f"no legal hold {hold_id!r}", code="hold_not_found")
            if result.rowcount == 0:
                raise InvalidRequest(f"legal hold {hold_id} was already released")
            await session.refresh(row)
            return _hold(row)

    async def holds(self, *, include_released: bool = False) -> list[LegalHold]:
        """Holds, oldest first; only active ones unless ``include_released``."""
        statement = select(LegalHoldRow).order_by(LegalHoldRow.created_at, LegalHoldRow.id)
        if not include_released:
            statement = statement.where(LegalHoldRow.released_at.is_(None))
        async with self._database.transaction("legal hold list") as session:
            return [_hold(row) for row in (await session.scalars(statement)).all()]


def _carrying(fingerprints: Sequence[str]) -> ColumnElement[bool]:
    """Content of a call whose findings carry one of ``fingerprints``."""
    return exists().where(
        AuditContentSubjectRow.digest == AuditContentRow.digest,
        AuditContentSubjectRow.fingerprint.in_(list(dict.fromkeys(fingerprints))),
    )


def _held() -> ColumnElement[bool]:
    """Content an active hold covers (by request id, app or team)."""
    active = LegalHoldRow.released_at.is_(None)

    def covered(scope: str, column: Any) -> ColumnElement[bool]:
        return exists().where(active, LegalHoldRow.scope == scope, LegalHoldRow.value == column)

    return or_(
        covered("request", AuditContentRow.request_id),
        covered("app", AuditContentRow.app),
        covered("team", AuditContentRow.team),
    )


def _content(row: AuditContentRow, fingerprints: tuple[str, ...]) -> StoredContent:
    return StoredContent(
        digest=row.digest,
        request_id=row.request_id,
        created_at=row.created_at,
        mode=row.mode,
        payload=row.payload,
        key_id=row.key_id,
        app=row.app,
        team=row.team,
        truncated=row.truncated,
        fingerprints=fingerprints,
    )


def _hold(row: LegalHoldRow) -> LegalHold:
    scope: HoldScope = "app" if row.scope == "app" else "team" if row.scope == "team" else "request"
    return LegalHold(
        id=row.id,
        scope=scope,
        value=row.value,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        released_by=row.released_by,
        released_at=row.released_at,
    )
