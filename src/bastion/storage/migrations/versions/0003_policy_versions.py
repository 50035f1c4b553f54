"""Policy versions and their activations; class sets the detectors reported against.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
_serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``policy_versions``, ``policy_activations`` and ``class_sets``."""
    op.create_table(
        "policy_versions",
        sa.Column("id", _serial, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("uploaded_by", sa.String(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "policy_activations",
        sa.Column("id", _serial, primary_key=True, autoincrement=True),
        sa.Column(
            "version_id", sa.BigInteger(), sa.ForeignKey("policy_versions.id"), nullable=False
        ),
        sa.Column("activated_by", sa.String(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
    )
    op.create_table(
        "class_sets",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("classes", _json, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("class_sets")
    op.drop_table("policy_activations")
    op.drop_table("policy_versions")
