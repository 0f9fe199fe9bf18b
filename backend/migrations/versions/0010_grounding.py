"""answer settings: max_unsupported_share (grounded or silent), and shorter answers

A generated answer whose share of unsupported claims is above ``max_unsupported_share`` is
replaced by the extractive answer. Products that already stored answer settings get the code's
default. ``max_answer_tokens`` goes from 256 to 160 for products that kept the old default
(256 is where the small model's loops ran to); a product that chose another value keeps it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# backend.answers.models.DEFAULT_MAX_UNSUPPORTED_SHARE / DEFAULT_MAX_ANSWER_TOKENS when this
# revision was written
SHARE = "0.0"
OLD_TOKENS, TOKENS = 256, 160


def upgrade() -> None:
    with op.batch_alter_table("assistant_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_unsupported_share", sa.Float(), nullable=False, server_default=SHARE)
        )
    settings = sa.table("assistant_settings", sa.column("max_answer_tokens", sa.Integer()))
    op.execute(
        settings.update()
        .where(settings.c.max_answer_tokens == OLD_TOKENS)
        .values(max_answer_tokens=TOKENS)
    )


def downgrade() -> None:
    # the lowered max_answer_tokens stays (a valid value; the old default cannot be told apart)
    with op.batch_alter_table("assistant_settings", schema=None) as batch_op:
        batch_op.drop_column("max_unsupported_share")
