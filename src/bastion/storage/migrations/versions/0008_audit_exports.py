"""Audit exporters: each exporter's lease and last outcome, and its cursor per writer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``audit_exporters`` and ``audit_export_cursors``."""
    op.create_table(
        "audit_exporters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("exported", sa.BigInteger(), nullable=False),
        sa.Column("last_success_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.Float(), nullable=True),
    )
    op.create_table(
        "audit_export_cursors",
        sa.Column(
            "exporter",
            sa.String(32),
            sa.ForeignKey("audit_exporters.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("writer_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("audit_export_cursors")
    op.drop_table("audit_exporters")
