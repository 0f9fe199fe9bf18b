"""Migration 0010 on stored answer settings: the grounding threshold gets the code's default, and
products that kept the old answer length (256 tokens) get the new one; a chosen length stays."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.answers.models import AssistantSettings, AssistantSettingsBase
from backend.core import migrate
from backend.core.db import make_engine, utcnow

pytestmark = pytest.mark.integration


def test_upgrade_fills_the_threshold_and_shortens_default_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url, "0009")
    engine = make_engine(url)
    try:
        table = sa.Table("assistant_settings", sa.MetaData(), autoload_with=engine)
        product = sa.Table("product", sa.MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            for pid, tokens in ((1, 256), (2, 300)):
                conn.execute(
                    product.insert().values(
                        id=pid, name=f"p{pid}", slug=f"p{pid}", created_at=utcnow()
                    )
                )
                row = AssistantSettings(product_id=pid, max_answer_tokens=tokens).model_dump()
                row.pop("max_unsupported_share")
                conn.execute(table.insert().values(**row))
        migrate.upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT product_id, max_answer_tokens, max_unsupported_share "
                    "FROM assistant_settings ORDER BY product_id"
                )
            ).all()
    finally:
        engine.dispose()
    share = AssistantSettingsBase().max_unsupported_share
    assert [tuple(r) for r in rows] == [(1, 160, share), (2, 300, share)]
