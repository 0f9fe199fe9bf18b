"""answer settings: min_retrieval_similarity (the retrieval floor)

When no retrieved hit is at least this similar to a visitor's message, the bot falls back instead
of answering, with or without an intent model. Products that already stored answer settings get
the same floor as the code's default (chosen with bench/floor.py): before it, off-topic messages
were answered from the nearest FAQ entry, which is the defect the floor fixes, so no product
keeps the old behaviour (an admin can lower it to 0 to turn it off).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLOOR = "0.43"  # backend.answers.models.DEFAULT_RETRIEVAL_FLOOR when this revision was written


def upgrade() -> None:
    with op.batch_alter_table("assistant_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("min_retrieval_similarity", sa.Float(), nullable=False, server_default=FLOOR)
        )


def downgrade() -> None:
    with op.batch_alter_table("assistant_settings", schema=None) as batch_op:
        batch_op.drop_column("min_retrieval_similarity")
