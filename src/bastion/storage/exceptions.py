"""Dynamic policy exceptions in the store: records, lifecycle and the repository.

Lifecycle (CONTRACT.md §1, issue 4): ``requested → approved | denied`` and
``approved → revoked``; an approved exception past ``expires_at`` is ``expired``, and so
is a request nobody decided before it would have expired. ``expired`` is never written:
it is read from the clock, so it holds on every replica at the same moment.

Every transition is one conditional UPDATE (the row must still be in the state the
transition starts from), so two admins deciding at once cannot both win. The approver
must differ from the requester; the repository enforces it, whoever calls it. Each
write appends ``exceptions`` to the change feed in the same transaction, so running
gateways reload within a poll interval; counting uses does not (it changes no decision).
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from bastion.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from bastion.model.exceptions import SCOPE_FIELDS, ExceptionState, PolicyException
from bastion.storage.changes import ChangeKind, record_change
from bastion.storage.database import Database
from bastion.storage.tables import PolicyExceptionRow

logger = logging.getLogger(__name__)

ID_PREFIX = "exc_"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ID_LENGTH = 16  # about 95 bits: ids are guessable by nobody, shareable by anyone
_RULE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_TEXT = 2000  # justification and decision notes


def new_exception_id() -> str:
    """A fresh ``exc_<16 base62>`` id."""
    return ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


@dataclass(frozen=True, slots=True)
class StoredException:
    """An exception as stored. ``state`` is the stored state; :meth:`status` the one that
    holds at a given moment (adds ``expired``)."""

    id: str
    rule: str
    scope: tuple[tuple[str, str], ...]
    state: ExceptionState
    expires_at: datetime
    justification: str
    owner: str
    requester: str
    created_at: datetime
    updated_at: datetime
    approver: str | None = None
    approved_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    uses: int = 0
    last_used_at: datetime | None = None

    def status(self, now: datetime) -> ExceptionState:
        """The state at ``now``: requested or approved past ``expires_at`` is expired."""
        if self.state in _LAPSING and self.expires_at <= now:
            return ExceptionState.EXPIRED
        return self.state

    def scope_value(self, field: str) -> str | None:
        """The value this exception's scope requires for ``field``, or None."""
        return next((value for name, value in self.scope if name == field), None)

    def to_policy_exception(self, now: datetime) -> PolicyException:
        """The value the policy evaluates. An approved one keeps ``approved`` and its
        expiry (the evaluator reads expiry from its own clock); others carry their
        state at ``now``."""
        state = self.state if self.state is ExceptionState.APPROVED else self.status(now)
        return PolicyException(
            id=self.id,
            rule=self.rule,
            scope=self.scope,
            state=state,
            expires_at=self.expires_at.timestamp(),
            justification=self.justification,
            owner=self.owner,
            requester=self.requester,
            approver=self.approver,
            created_at=self.created_at.timestamp(),
            uses=self.uses,
            static=False,
        )


_LAPSING = (ExceptionState.REQUESTED, ExceptionState.APPROVED)


class ExceptionRepository:
    """Request, decide, list and count the uses of dynamic policy exceptions."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def request(
        self,
        *,
        rule: str,
        scope: Mapping[str, str],
        justification: str,
        expires_at: datetime,
        requester: str,
        owner: str | None = None,
        now: datetime | None = None,
    ) -> StoredException:
        """Store a new exception in state ``requested``; InvalidRequest when a field is
        wrong (unknown scope field, no scope, empty justification, expiry not ahead)."""
        now = now or datetime.now(UTC)
        requester = _checked_subject(requester)
        stored = StoredException(
            id=new_exception_id(),
            rule=_checked_rule(rule),
            scope=_checked_scope(scope),
            state=ExceptionState.REQUESTED,
            expires_at=_checked_expiry(expires_at, now),
            justification=_checked_text(justification, "justification", required=True) or "",
            owner=(owner or "").strip() or requester,
            requester=requester,
            created_at=now,
            updated_at=now,
        )
        async with self._database.transaction("exception request") as session:
            session.add(_to_row(stored))
            await record_change(session, ChangeKind.EXCEPTIONS)
        _log_change(stored, "requested", requester)
        return stored

    async def approve(
        self,
        exception_id: str,
        *,
        approver: str,
        note: str | None = None,
        expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> StoredException:
        """Approve a pending request, until ``expires_at`` when given (else until the
        requested expiry). Conflict when it is not pending (denied, already decided,
        expired); PermissionDenied when ``approver`` is its requester; InvalidRequest when
        ``expires_at`` is not ahead."""
        now = now or datetime.now(UTC)
        approver = _checked_subject(approver)
        values: dict[str, Any] = {"approver": approver, "approved_at": now}
        if expires_at is not None:
            values["expires_at"] = _checked_expiry(expires_at, now)
        return await self._transition(
            exception_id,
            ExceptionState.APPROVED,
            actor=approver,
            note=note,
            now=now,
            extra=(PolicyExceptionRow.requester != approver,),
            values=values,
        )

    async def deny(
        self,
        exception_id: str,
        *,
        decided_by: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> StoredException:
        """Deny (or, by its requester, withdraw) a pending request; Conflict otherwise."""
        return await self._transition(
            exception_id,
            ExceptionState.DENIED,
            actor=_checked_subject(decided_by),
            note=note,
            now=now or datetime.now(UTC),
        )

    async def revoke(
        self,
        exception_id: str,
        *,
        decided_by: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> StoredException:
        """End an approved, unexpired exception now; Conflict for any other state."""
        return await self._transition(
            exception_id,
            ExceptionState.REVOKED,
            actor=_checked_subject(decided_by),
            note=note,
            now=now or datetime.now(UTC),
        )

    async def get(self, exception_id: str) -> StoredException | None:
        """The exception with this id, in any state, or None."""
        async with self._database.transaction("exception lookup") as session:
            row = await session.get(PolicyExceptionRow, exception_id)
            return None if row is None else _from_row(row)

    async def list(
        self,
        *,
        state: ExceptionState | None = None,
        app: str | None = None,
        rule: str | None = None,
        now: datetime | None = None,
    ) -> builtins.list[StoredException]:
        """Exceptions oldest first; ``state`` filters on the state at ``now``."""
        statement = select(PolicyExceptionRow).order_by(
            PolicyExceptionRow.created_at, PolicyExceptionRow.id
        )
        if state is not None:
            statement = statement.where(_state_is(state, now or datetime.now(UTC)))
        if app is not None:
            statement = statement.where(PolicyExceptionRow.app == app)
        if rule is not None:
            statement = statement.where(PolicyExceptionRow.rule == rule)
        return await self._select(statement, "exception list")

    async def list_applicable(self, now: datetime | None = None) -> builtins.list[StoredException]:
        """Approved exceptions that have not expired at ``now``."""
        statement = select(PolicyExceptionRow).where(
            _state_is(ExceptionState.APPROVED, now or datetime.now(UTC))
        )
        return await self._select(statement, "exception list")

    async def list_current(self, since: datetime) -> builtins.list[StoredException]:
        """Every exception that expires after ``since`` or changed after it: the approved
        ones that apply, plus recent history (expired, revoked, denied, pending) so a
        gateway can tell a caller naming one why it does not apply."""
        statement = select(PolicyExceptionRow).where(
            or_(PolicyExceptionRow.expires_at > since, PolicyExceptionRow.updated_at > since)
        )
        return await self._select(statement, "exception list")

    async def record_use(self, exception_id: str, n: int = 1, at: datetime | None = None) -> bool:
        """Add ``n`` uses; False when the id is unknown."""
        return await self.record_uses({exception_id: n}, at) == 1

    async def record_uses(self, counts: Mapping[str, int], at: datetime | None = None) -> int:
        """Add uses per id in one transaction; how many ids were known."""
        at = at or datetime.now(UTC)
        known = 0
        async with self._database.transaction("exception use count") as session:
            for exception_id, n in counts.items():
                if n <= 0:
                    continue
                statement = (
                    update(PolicyExceptionRow)
                    .where(PolicyExceptionRow.id == exception_id)
                    .values(uses=PolicyExceptionRow.uses + n, last_used_at=at)
                    .returning(PolicyExceptionRow.id)
                )
                if (await session.execute(statement)).first() is not None:
                    known += 1
        return known

    async def _select(self, statement: Any, operation: str) -> builtins.list[StoredException]:
        async with self._database.transaction(operation) as session:
            return [_from_row(row) for row in (await session.scalars(statement)).all()]

    async def _transition(
        self,
        exception_id: str,
        target: ExceptionState,
        *,
        actor: str,
        note: str | None,
        now: datetime,
        extra: tuple[ColumnElement[bool], ...] = (),
        values: Mapping[str, Any] | None = None,
    ) -> StoredException:
        source = _SOURCE[target]
        note = _checked_text(note, "note", required=False)
        statement = (
            update(PolicyExceptionRow)
            .where(PolicyExceptionRow.id == exception_id, _state_is(source, now), *extra)
            .values(
                state=target.value,
                decided_by=actor,
                decided_at=now,
                decision_note=note,
                updated_at=now,
                **(values or {}),
            )
            .returning(PolicyExceptionRow.id)
        )
        async with self._database.transaction(f"exception {target.value}") as session:
            changed = (await session.execute(statement)).first() is not None
            row = await session.get(PolicyExceptionRow, exception_id, populate_existing=True)
            if changed:
                await record_change(session, ChangeKind.EXCEPTIONS)
        if row is None:
            raise NotFound(f"no exception with id {exception_id!r}", code="exception_not_found")
        stored = _from_row(row)
        if not changed:
            raise _refusal(stored, source, target, actor, now)
        _log_change(stored, target.value, actor)
        return stored


_SOURCE = {
    ExceptionState.APPROVED: ExceptionState.REQUESTED,
    ExceptionState.DENIED: ExceptionState.REQUESTED,
    ExceptionState.REVOKED: ExceptionState.APPROVED,
}
_VERB = {
    ExceptionState.APPROVED: "approve",
    ExceptionState.DENIED: "deny",
    ExceptionState.REVOKED: "revoke",
}


def _refusal(
    stored: StoredException,
    source: ExceptionState,
    target: ExceptionState,
    actor: str,
    now: datetime,
) -> Exception:
    """Why a transition did not happen, as the error the caller reads."""
    status = stored.status(now)
    verb = _VERB[target]
    if status is not source:
        hint = (
            " Request a new one with `bastion exceptions request`."
            if status in (ExceptionState.DENIED, ExceptionState.EXPIRED, ExceptionState.REVOKED)
            else ""
        )
        return Conflict(
            f"cannot {verb} exception {stored.id!r}: it is {status.value}; only "
            f"{source.value} exceptions can be {target.value}.{hint}",
            code="exception_state_conflict",
            status=409,
        )
    return PermissionDenied(
        f"cannot approve exception {stored.id!r}: {actor!r} requested it, and the approver "
        "must be someone else. Ask another admin or security subject to approve it "
        "with their own admin token.",
        code="approver_is_requester",
    )


def _state_is(state: ExceptionState, now: datetime) -> ColumnElement[bool]:
    """SQL for "is in ``state`` at ``now``" (expiry read from the clock)."""
    column, expires_at = PolicyExceptionRow.state, PolicyExceptionRow.expires_at
    if state in _LAPSING:
        return and_(column == state.value, expires_at > now)
    if state is ExceptionState.EXPIRED:
        return and_(column.in_([s.value for s in _LAPSING]), expires_at <= now)
    return column == state.value


def _checked_rule(rule: str) -> str:
    rule = rule.strip()
    if not rule or len(rule) > 200 or not _RULE_CHARS.issuperset(rule):
        raise InvalidRequest(
            f"rule {rule[:80]!r} is not a rule id; rule ids use a-z, 0-9, '_', '.' and '-' "
            "(as in x-bastion-rules)",
            param="rule",
        )
    return rule


def _checked_scope(scope: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    unknown = sorted(set(scope) - set(SCOPE_FIELDS))
    if unknown:
        raise InvalidRequest(
            f"cannot scope an exception to {', '.join(unknown)}; use {', '.join(SCOPE_FIELDS)}",
            param="scope",
        )
    blank = [field for field in SCOPE_FIELDS if field in scope and not scope[field].strip()]
    if blank:  # dropping it would widen the exception (--app "$UNSET" --team finance)
        raise InvalidRequest(
            f"scope.{blank[0]} is empty: give the value callers must have, or leave it out",
            param=f"scope.{blank[0]}",
        )
    pairs = tuple((field, scope[field].strip()) for field in SCOPE_FIELDS if field in scope)
    if not pairs:
        raise InvalidRequest(
            "an exception needs a scope: at least one of app, team, user or key_id",
            param="scope",
        )
    return pairs


def _checked_expiry(expires_at: datetime, now: datetime) -> datetime:
    if expires_at.tzinfo is None:
        raise InvalidRequest("expires_at must be timezone-aware", param="expires_at")
    if expires_at <= now:
        raise InvalidRequest("an exception must expire in the future", param="expires_at")
    return expires_at.astimezone(UTC)


def _checked_text(text: str | None, name: str, *, required: bool) -> str | None:
    text = (text or "").strip()
    if required and not text:
        raise InvalidRequest(f"an exception needs a {name}: why it is needed", param=name)
    if len(text) > _MAX_TEXT:
        raise InvalidRequest(f"the {name} is longer than {_MAX_TEXT} characters", param=name)
    return text or None


def _checked_subject(subject: str) -> str:
    subject = subject.strip()
    if not subject:
        raise InvalidRequest("the acting admin subject is empty", param="subject")
    return subject


def _log_change(stored: StoredException, what: str, actor: str) -> None:
    # Ids, rule, scope and subjects only: justification and notes are free text.
    scope = ",".join(f"{field}={value}" for field, value in stored.scope)
    logger.info(
        "exception %s %s by %s (rule %s, scope %s, expires %s)",
        stored.id,
        what,
        actor,
        stored.rule,
        scope,
        stored.expires_at.isoformat(timespec="seconds"),
    )


def _to_row(stored: StoredException) -> PolicyExceptionRow:
    return PolicyExceptionRow(
        id=stored.id,
        rule=stored.rule,
        app=stored.scope_value("app"),
        team=stored.scope_value("team"),
        user=stored.scope_value("user"),
        key_id=stored.scope_value("key_id"),
        state=stored.state.value,
        expires_at=stored.expires_at,
        justification=stored.justification,
        owner=stored.owner,
        requester=stored.requester,
        approver=stored.approver,
        approved_at=stored.approved_at,
        decided_by=stored.decided_by,
        decided_at=stored.decided_at,
        decision_note=stored.decision_note,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        uses=stored.uses,
        last_used_at=stored.last_used_at,
    )


def _from_row(row: PolicyExceptionRow) -> StoredException:
    scope = tuple(
        (field, value)
        for field, value in (
            ("app", row.app),
            ("team", row.team),
            ("user", row.user),
            ("key_id", row.key_id),
        )
        if value is not None
    )
    return StoredException(
        id=row.id,
        rule=row.rule,
        scope=scope,
        state=ExceptionState(row.state),
        expires_at=row.expires_at,
        justification=row.justification,
        owner=row.owner,
        requester=row.requester,
        created_at=row.created_at,
        updated_at=row.updated_at,
        approver=row.approver,
        approved_at=row.approved_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        uses=int(row.uses),
        last_used_at=row.last_used_at,
    )
