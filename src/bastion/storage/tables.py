"""The relational schema (SQLAlchemy 2 typed declarative); migrations create the same.

Timestamps of governed objects are timezone-aware UTC datetimes on both backends;
audit timings (``call_records.started_at``) are epoch seconds, as in the model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JsonValue = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime; SQLite stores it naive, so it is re-tagged on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Bastion table."""


class ApiKeyRow(Base):
    """A gateway key: its principal, permitted models, hashed secret and lifecycle."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String())
    user: Mapped[str | None] = mapped_column(String())
    app: Mapped[str | None] = mapped_column(String())
    team: Mapped[str | None] = mapped_column(String())
    environment: Mapped[str] = mapped_column(String())
    roles: Mapped[list[str]] = mapped_column(JsonValue)
    owner: Mapped[str | None] = mapped_column(String())
    models: Mapped[list[str]] = mapped_column(JsonValue)
    trust_end_user: Mapped[bool] = mapped_column(Boolean)
    secret_hash: Mapped[str] = mapped_column(String())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replaced_by: Mapped[str | None] = mapped_column(String(16))
    grace_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String())


class AdminTokenRow(Base):
    """An admin API / CLI token with one role."""

    __tablename__ = "admin_tokens"

    token_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String())
    role: Mapped[str] = mapped_column(String())
    secret_hash: Mapped[str] = mapped_column(String())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ConsoleSessionRow(Base):
    """One open console session: the SHA-256 of its random id (never the id itself),
    what it was opened with (an admin token id, a gateway key id or an OIDC subject),
    the role it was opened with, when it ends and when it was last used (both null for
    sessions opened before migration 0015). Logging out deletes the row, so every
    replica refuses it."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires_at", "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    role: Mapped[str | None] = mapped_column(String())
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ChangeRow(Base):
    """One entry of the change feed: something of ``kind`` changed at ``at``."""

    __tablename__ = "changes"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String())
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class CallRecordRow(Base):
    """One audited call (see ``bastion.model.CallRecord``)."""

    __tablename__ = "call_records"
    __table_args__ = (
        Index("ix_call_records_started_at", "started_at"),
        Index("ix_call_records_key_id", "key_id"),
        # audit search and overview (migration 0007): a field's calls, newest first
        *(
            Index(f"ix_call_records_{name}_started_at", name, "started_at")
            for name in ("environment", "app", "team", "user", "decision")
        ),
    )

    request_id: Mapped[str] = mapped_column(String(), primary_key=True)
    started_at: Mapped[float] = mapped_column(Float)
    endpoint: Mapped[str] = mapped_column(String())
    key_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String())
    user: Mapped[str | None] = mapped_column(String())
    app: Mapped[str | None] = mapped_column(String())
    team: Mapped[str | None] = mapped_column(String())
    environment: Mapped[str | None] = mapped_column(String())
    roles: Mapped[list[str] | None] = mapped_column(JsonValue)
    owner: Mapped[str | None] = mapped_column(String())
    model_requested: Mapped[str | None] = mapped_column(String())
    model_used: Mapped[str | None] = mapped_column(String())
    provider: Mapped[str | None] = mapped_column(String())
    decision: Mapped[str] = mapped_column(String())
    status: Mapped[str] = mapped_column(String())
    http_status: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String())
    stream: Mapped[bool] = mapped_column(Boolean)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    usage_estimated: Mapped[bool] = mapped_column(Boolean)
    gateway_ms: Mapped[float] = mapped_column(Float)
    upstream_ms: Mapped[float] = mapped_column(Float)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    rules: Mapped[list[str]] = mapped_column(JsonValue)
    policy_version: Mapped[str | None] = mapped_column(String())
    cost_usd: Mapped[float | None] = mapped_column(Float)
    end_user_claimed: Mapped[str | None] = mapped_column(String())
    client_addr: Mapped[str | None] = mapped_column(String())
    request_facts: Mapped[dict[str, Any]] = mapped_column(JsonValue)


class CallRecordRuleRow(Base):
    """A rule that acted on a call, on its request or on its answer: kept by triggers on
    ``call_records`` (migration 0013) for the audit search by rule, newest first."""

    __tablename__ = "call_record_rules"
    __table_args__ = (
        Index("ix_call_record_rules_request_id", "request_id"),
        {"sqlite_with_rowid": False},
    )

    rule: Mapped[str] = mapped_column(String(), primary_key=True)
    started_at: Mapped[float] = mapped_column(Float, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(), primary_key=True)


class PolicyExceptionRow(Base):
    """A dynamic policy exception: one rule waived for a scoped caller until it expires.

    Scope columns left NULL are not part of the scope; at least one is set.
    """

    __tablename__ = "policy_exceptions"
    __table_args__ = (
        Index("ix_policy_exceptions_state_expires_at", "state", "expires_at"),
        Index("ix_policy_exceptions_updated_at", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String())
    app: Mapped[str | None] = mapped_column(String())
    team: Mapped[str | None] = mapped_column(String())
    user: Mapped[str | None] = mapped_column(String())
    key_id: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    justification: Mapped[str] = mapped_column(String())
    owner: Mapped[str] = mapped_column(String())
    requester: Mapped[str] = mapped_column(String())
    approver: Mapped[str | None] = mapped_column(String())
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str | None] = mapped_column(String())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    uses: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PolicyVersionRow(Base):
    """One uploaded policy file, by content digest (uploading the same bytes twice
    finds the same version)."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String())
    label: Mapped[str] = mapped_column(String())
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text())
    source: Mapped[str | None] = mapped_column(String())
    uploaded_by: Mapped[str] = mapped_column(String())
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PolicyActivationRow(Base):
    """A policy version made active (``activate``, ``rollback`` or ``seed``); the latest
    activation is the active policy of every replica."""

    __tablename__ = "policy_activations"

    id: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("policy_versions.id"))
    activated_by: Mapped[str] = mapped_column(String())
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(16))


class ClassSetRow(Base):
    """The data classes a gateway's detectors could report, by digest: call records name
    their class set, so replay knows which classes were looked for at the time."""

    __tablename__ = "class_sets"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    classes: Mapped[list[str]] = mapped_column(JsonValue)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SpendLedgerRow(Base):
    """One settled call's tokens and cost (picodollars): budgets are rebuilt from these
    rows at start-up, so spend survives restarts."""

    __tablename__ = "spend_ledger"
    __table_args__ = (Index("ix_spend_ledger_settled_at", "settled_at"),)

    id: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=True)
    settled_at: Mapped[float] = mapped_column(Float)
    key_id: Mapped[str] = mapped_column(String(16))
    user: Mapped[str | None] = mapped_column(String())
    app: Mapped[str | None] = mapped_column(String())
    team: Mapped[str | None] = mapped_column(String())
    environment: Mapped[str] = mapped_column(String())
    model: Mapped[str] = mapped_column(String())
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_pusd: Mapped[int] = mapped_column(BigInteger)
    estimated: Mapped[bool] = mapped_column(Boolean)


class AuditEventRow(Base):
    """One link of a writer's audit hash chain: an intent (written before the call went
    upstream) or a completion (the call's one terminal state). ``body`` is the canonical
    JSON of the chained metadata, exactly as hashed; content is never in it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_request_id", "request_id", "kind"),)

    writer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String())
    at: Mapped[float] = mapped_column(Float)
    body: Mapped[str] = mapped_column(Text())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditWriterRow(Base):
    """Where a writer's chain and write-ahead log stand: its head, the log position
    shipped with it (same transaction, so nothing is shipped twice), and the seq up to
    which every intent is known to be closed. A gateway writer renews ``lease_until``
    while it lives; ``lease_owner`` is the writer that last held it (itself, or the one
    that adopted it after the lease lapsed)."""

    __tablename__ = "audit_writers"
    __table_args__ = (Index("ix_audit_writers_lease_until", "lease_until"),)

    writer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    wal_segment: Mapped[int] = mapped_column(BigInteger)
    wal_offset: Mapped[int] = mapped_column(BigInteger)
    closed_through: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float] = mapped_column(Float)
    lease_owner: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuditContentRow(Base):
    """Retained content of one call (audit retention modes ``redacted``, ``encrypted``,
    ``full``), stored by its salted digest apart from the chained metadata: the chained
    record names only the digest, so purging or erasing content keeps the chain valid."""

    __tablename__ = "audit_content"
    __table_args__ = (
        Index("ix_audit_content_request_id", "request_id"),
        Index("ix_audit_content_created_at", "created_at"),
    )

    digest: Mapped[str] = mapped_column(String(96), primary_key=True)
    request_id: Mapped[str] = mapped_column(String())
    created_at: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(16))
    app: Mapped[str | None] = mapped_column(String())
    team: Mapped[str | None] = mapped_column(String())
    truncated: Mapped[bool] = mapped_column(Boolean)
    payload: Mapped[str] = mapped_column(Text())


class AuditContentSubjectRow(Base):
    """A keyed fingerprint found in a call whose content is retained: per-subject erasure
    finds the content to delete by fingerprint, never by value."""

    __tablename__ = "audit_content_subjects"
    __table_args__ = (Index("ix_audit_content_subjects_digest", "digest"),)

    fingerprint: Mapped[str] = mapped_column(String(96), primary_key=True)
    digest: Mapped[str] = mapped_column(
        String(96), ForeignKey("audit_content.digest", ondelete="CASCADE"), primary_key=True
    )


class LegalHoldRow(Base):
    """A legal hold: content of an app, a team or one request is kept past its retention
    window (purge skips it) until the hold is released."""

    __tablename__ = "audit_legal_holds"
    __table_args__ = (Index("ix_audit_legal_holds_scope_value", "scope", "value"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String())
    reason: Mapped[str] = mapped_column(String())
    created_by: Mapped[str] = mapped_column(String())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String())
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# Hourly rollups of call_records for the admin overview (migration 0009): database
# triggers keep them exact on every insert (and delete) of a call record. ``hour`` is
# the epoch second its hour starts at; key columns hold '' for NULL (keys can't be NULL).


class CallHourlyRow(Base):
    """Calls that started in one hour, by environment and decision."""

    __tablename__ = "call_hourly"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    environment: Mapped[str] = mapped_column(String(), primary_key=True)
    decision: Mapped[str] = mapped_column(String(), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    redacted: Mapped[int] = mapped_column(BigInteger)


class ExceptionHourlyRow(Base):
    """Calls one exception let through in one hour, by the calling key's owner."""

    __tablename__ = "exception_hourly"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(), primary_key=True)
    exception_id: Mapped[str] = mapped_column(String(), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)


class OverheadHourlyRow(Base):
    """Calls in one hour whose gateway overhead fell in one histogram bucket."""

    __tablename__ = "overhead_hourly"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    calls: Mapped[int] = mapped_column(BigInteger)


class InjectionHourlyRow(Base):
    """Injection findings of one class at one source in one hour."""

    __tablename__ = "injection_hourly"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data_class: Mapped[str] = mapped_column(String(), primary_key=True)
    source: Mapped[str] = mapped_column(String(), primary_key=True)
    detections: Mapped[int] = mapped_column(BigInteger)
    calls: Mapped[int] = mapped_column(BigInteger)


class SpendDailyRow(Base):
    """Spend settled in one UTC day (``day``: the epoch second it starts at) by every
    field spend is grouped by (migration 0011; triggers on ``spend_ledger`` keep it
    exact; '' for NULL)."""

    __tablename__ = "spend_daily"

    day: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key_id: Mapped[str] = mapped_column(String(), primary_key=True)
    user: Mapped[str] = mapped_column(String(), primary_key=True)
    app: Mapped[str] = mapped_column(String(), primary_key=True)
    team: Mapped[str] = mapped_column(String(), primary_key=True)
    environment: Mapped[str] = mapped_column(String(), primary_key=True)
    model: Mapped[str] = mapped_column(String(), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_pusd: Mapped[int] = mapped_column(BigInteger)


class AuditExporterRow(Base):
    """One audit exporter's lease (the replica that exports, until when) and its last
    outcome, for ``bastion audit exporters``."""

    __tablename__ = "audit_exporters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[float] = mapped_column(Float)
    exported: Mapped[int] = mapped_column(BigInteger)
    last_success_at: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text())
    last_error_at: Mapped[float | None] = mapped_column(Float)


class AuditExportCursorRow(Base):
    """How far an exporter has delivered one writer's chain: every event up to ``seq``
    was acknowledged by the sink (or is not exported, as intents)."""

    __tablename__ = "audit_export_cursors"

    exporter: Mapped[str] = mapped_column(
        String(32), ForeignKey("audit_exporters.name", ondelete="CASCADE"), primary_key=True
    )
    writer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float] = mapped_column(Float)
