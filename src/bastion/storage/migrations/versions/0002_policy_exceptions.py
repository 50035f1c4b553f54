"""Policy exceptions: dynamic, approved waivers of one rule for a scoped caller.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create ``policy_exceptions`` and its indexes."""
    op.create_table(
        "policy_exceptions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("app", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("user", sa.String(), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        _timestamp("expires_at"),
        sa.Column("justification", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("requester", sa.String(), nullable=False),
        sa.Column("approver", sa.String(), nullable=True),
        _timestamp("approved_at", nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        _timestamp("decided_at", nullable=True),
        sa.Column("decision_note", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("uses", sa.BigInteger(), nullable=False),
        _timestamp("last_used_at", nullable=True),
    )
    op.create_index(
        "ix_policy_exceptions_state_expires_at", "policy_exceptions", ["state", "expires_at"]
    )
    op.create_index("ix_policy_exceptions_updated_at", "policy_exceptions", ["updated_at"])


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_index("ix_policy_exceptions_updated_at", table_name="policy_exceptions")
    op.drop_index("ix_policy_exceptions_state_expires_at", table_name="policy_exceptions")
    op.drop_table("policy_exceptions")
