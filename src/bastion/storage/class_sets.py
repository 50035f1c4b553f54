"""Class sets in the store: the data classes a gateway's detectors could report, by digest.

A gateway saves its set at start and on reload; each call record names the digest
(``request_facts["class_set"]``), so replay can tell "not found" from "not looked for".
Saving is idempotent: the digest is the content (``bastion.model.facts.class_set_digest``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from bastion.model.facts import class_set_digest
from bastion.storage.database import Database
from bastion.storage.tables import ClassSetRow

_LOOKUP_CHUNK = 500
"""Digests per ``IN (...)`` lookup: well under SQLite's and asyncpg's parameter limits."""


class ClassSetRepository:
    """Save and look up class sets."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def save(self, classes: Iterable[str]) -> str:
        """Store the set of ``classes`` (if new) and return its digest."""
        names = sorted(set(classes))
        digest = class_set_digest(names)
        insert = sqlite.insert if self._database.is_sqlite else postgresql.insert
        statement = (
            insert(ClassSetRow)
            .values(digest=digest, classes=names, created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["digest"])
        )
        async with self._database.transaction("class set save") as session:
            await session.execute(statement)
        return digest

    async def get_many(self, digests: Iterable[str]) -> dict[str, frozenset[str]]:
        """The stored sets among ``digests``; unknown digests are left out."""
        wanted = sorted(set(digests))
        found: dict[str, frozenset[str]] = {}
        async with self._database.transaction("class set lookup") as session:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                rows = await session.execute(
                    select(ClassSetRow.digest, ClassSetRow.classes).where(
                        ClassSetRow.digest.in_(chunk)
                    )
                )
                for digest, classes in rows:
                    found[digest] = frozenset(classes)
        return found
