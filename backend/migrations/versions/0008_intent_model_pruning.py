"""intent models: activated_at and pruned_at

Old intent model versions are pruned (their folders removed, the rows kept as history, marked by
``pruned_at``); the version active before the current one is kept for a rollback, found by
``activated_at``. The currently active version of each product counts as activated when it was
created.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("intent_model", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activated_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("pruned_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE intent_model SET activated_at = created_at WHERE is_active = true")


def downgrade() -> None:
    with op.batch_alter_table("intent_model", schema=None) as batch_op:
        batch_op.drop_column("pruned_at")
        batch_op.drop_column("activated_at")
