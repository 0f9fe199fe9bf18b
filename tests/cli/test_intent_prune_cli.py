"""`deskpilot intent prune` from the shell: it keeps the newest --keep versions and the active
one, reports what it removed, and refuses an unknown product or a negative --keep."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.db import make_engine
from backend.core.settings import get_settings
from backend.intents.models import IntentModel
from backend.intents.versions import activate_version, models_root
from backend.products.models import Product

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_prune_keeps_newest_and_active(env: Path) -> None:
    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as session:
        shop = session.exec(select(Product).where(Product.slug == "shop")).one()
        root = models_root(settings, shop.id or 0)
        for n in range(4):
            (root / f"v{n}").mkdir(parents=True)
            (root / f"v{n}" / "head.safetensors").write_bytes(b"x" * 2_000_000)
            session.add(
                IntentModel(product_id=shop.id or 0, version=f"v{n}", path=str(root / f"v{n}"))
            )
            session.commit()
        activate_version(session=session, product_id=shop.id or 0, version="v0")
    engine.dispose()
    result = runner.invoke(app, ["intent", "prune", "-p", "shop", "--keep", "1"])
    assert result.exit_code == 0, result.output
    assert "pruned 2 version(s): v2, v1" in result.output and "freed 4.0 MB" in result.output
    assert sorted(p.name for p in root.iterdir()) == ["v0", "v3"]
    listing = runner.invoke(app, ["intent", "models", "-p", "shop"]).output
    assert listing.count("pruned") == 2
    missing = runner.invoke(app, ["intent", "prune", "-p", "nope"])
    assert missing.exit_code == 1 and "nope" in missing.output
    negative = runner.invoke(app, ["intent", "prune", "-p", "shop", "--keep", "-1"])
    assert negative.exit_code == 2
    assert "--keep" in runner.invoke(app, ["intent", "prune", "--help"]).output
