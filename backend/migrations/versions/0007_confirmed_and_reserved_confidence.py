"""answer settings: min_confidence_confirmed and min_confidence_reserved

A FAQ intent that retrieval confirms (the plain search's best entry is that intent's) may be
answered from a lower gate confidence (``min_confidence_confirmed``); handing over and small talk
get their own bar (``min_confidence_reserved``). Products that already stored answer settings get
their own ``min_confidence`` in both, so their behaviour does not change until an admin edits
them; products without stored settings use the code's defaults.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assistant_settings", schema=None) as batch_op:
        for name in ("min_confidence_confirmed", "min_confidence_reserved"):
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=False, server_default="0.6"))
    op.execute(
        "UPDATE assistant_settings SET min_confidence_confirmed = min_confidence, "
        "min_confidence_reserved = min_confidence"
    )


def downgrade() -> None:
    with op.batch_alter_table("assistant_settings", schema=None) as batch_op:
        batch_op.drop_column("min_confidence_reserved")
        batch_op.drop_column("min_confidence_confirmed")
