"""Indexes for the admin API's audit search and overview: each principal field and the
decision paired with ``started_at``, so a filtered search reads newest first from one
index (the single-column environment and app indexes become these).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPLACED = ("environment", "app")
_PAIRED = ("environment", "app", "team", "user", "decision")


def upgrade() -> None:
    """Replace the environment and app indexes; add the ``(field, started_at)`` ones."""
    for column in _REPLACED:
        op.drop_index(f"ix_call_records_{column}", table_name="call_records")
    for column in _PAIRED:
        op.create_index(
            f"ix_call_records_{column}_started_at", "call_records", [column, "started_at"]
        )


def downgrade() -> None:
    """Back to the single-column indexes of 0001."""
    for column in _PAIRED:
        op.drop_index(f"ix_call_records_{column}_started_at", table_name="call_records")
    for column in _REPLACED:
        op.create_index(f"ix_call_records_{column}", "call_records", [column])
