"""The spend ledger: one row per settled call, for budgets that survive restarts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``spend_ledger`` with an index on the settlement time."""
    op.create_table(
        "spend_ledger",
        sa.Column("id", _serial, primary_key=True, autoincrement=True),
        sa.Column("settled_at", sa.Float(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("user", sa.String(), nullable=True),
        sa.Column("app", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_pusd", sa.BigInteger(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_spend_ledger_settled_at", "spend_ledger", ["settled_at"])


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_index("ix_spend_ledger_settled_at", table_name="spend_ledger")
    op.drop_table("spend_ledger")
