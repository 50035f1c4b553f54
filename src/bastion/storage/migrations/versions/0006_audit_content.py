"""Audit content retention: content by salted digest, its subjects' fingerprints, and
legal holds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``audit_content``, ``audit_content_subjects`` and ``audit_legal_holds``."""
    op.create_table(
        "audit_content",
        sa.Column("digest", sa.String(96), primary_key=True),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("app", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_content_request_id", "audit_content", ["request_id"])
    op.create_index("ix_audit_content_created_at", "audit_content", ["created_at"])
    op.create_table(
        "audit_content_subjects",
        sa.Column("fingerprint", sa.String(96), primary_key=True),
        sa.Column(
            "digest",
            sa.String(96),
            sa.ForeignKey("audit_content.digest", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_audit_content_subjects_digest", "audit_content_subjects", ["digest"])
    op.create_table(
        "audit_legal_holds",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_audit_legal_holds_scope_value", "audit_legal_holds", ["scope", "value"])


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_index("ix_audit_legal_holds_scope_value", table_name="audit_legal_holds")
    op.drop_table("audit_legal_holds")
    op.drop_index("ix_audit_content_subjects_digest", table_name="audit_content_subjects")
    op.drop_table("audit_content_subjects")
    op.drop_index("ix_audit_content_created_at", table_name="audit_content")
    op.drop_index("ix_audit_content_request_id", table_name="audit_content")
    op.drop_table("audit_content")
