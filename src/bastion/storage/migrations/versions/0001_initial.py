"""Initial schema: gateway keys, admin tokens, change feed, call records.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_json = sa.JSON().with_variant(JSONB(), "postgresql")
_seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the four tables and the call-record indexes."""
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("user", sa.String(), nullable=True),
        sa.Column("app", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("roles", _json, nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("models", _json, nullable=False),
        sa.Column("trust_end_user", sa.Boolean(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.Column("replaced_by", sa.String(16), nullable=True),
        _timestamp("grace_until", nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
    )
    op.create_table(
        "admin_tokens",
        sa.Column("token_id", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
    )
    op.create_table(
        "changes",
        sa.Column("seq", _seq, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(), nullable=False),
        _timestamp("at"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "call_records",
        sa.Column("request_id", sa.String(), primary_key=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("user", sa.String(), nullable=True),
        sa.Column("app", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("roles", _json, nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("model_requested", sa.String(), nullable=True),
        sa.Column("model_used", sa.String(), nullable=True),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("usage_estimated", sa.Boolean(), nullable=False),
        sa.Column("gateway_ms", sa.Float(), nullable=False),
        sa.Column("upstream_ms", sa.Float(), nullable=False),
        sa.Column("findings", _json, nullable=False),
        sa.Column("rules", _json, nullable=False),
        sa.Column("policy_version", sa.String(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("end_user_claimed", sa.String(), nullable=True),
        sa.Column("client_addr", sa.String(), nullable=True),
        sa.Column("request_facts", _json, nullable=False),
    )
    for column in ("started_at", "key_id", "environment", "app"):
        op.create_index(f"ix_call_records_{column}", "call_records", [column])


def downgrade() -> None:
    """Drop everything this revision created."""
    for column in ("started_at", "key_id", "environment", "app"):
        op.drop_index(f"ix_call_records_{column}", table_name="call_records")
    for table in ("call_records", "changes", "admin_tokens", "api_keys"):
        op.drop_table(table)
