"""Console sessions keep the role they were opened with and when they were last used,
so the admin API and ``bastion console sessions`` can say who is signed in with what
power, and who is idle.

``role`` is the admin token's role, or the role an OIDC user's claims mapped to (null
for a gateway key's chat-only session); ``last_seen_at`` is written when the session is
used, at most once a minute. Both are nullable: sessions opened before this revision
have neither until they end (``last_seen_at`` is filled at their next use).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``role`` and ``last_seen_at`` to ``console_sessions``."""
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("role", sa.String(), nullable=True))
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop ``role`` and ``last_seen_at``."""
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("role")
