"""Audit writer leases: a gateway writer renews ``lease_until`` while it lives; once it
lapses, another replica may adopt the writer and close its orphaned intents.

``lease_owner`` names the writer that last held the row: the writer itself while it
runs, the adopting writer after a takeover. Rows written before this revision (and the
``admin`` chain's) have no lease and are never adopted.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``lease_owner`` and ``lease_until`` to ``audit_writers``."""
    with op.batch_alter_table("audit_writers") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.Float(), nullable=True))
    op.create_index("ix_audit_writers_lease_until", "audit_writers", ["lease_until"])


def downgrade() -> None:
    """Drop the lease columns."""
    op.drop_index("ix_audit_writers_lease_until", table_name="audit_writers")
    with op.batch_alter_table("audit_writers") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
