"""Widget fixtures: site keys, the API client, and an API on a database of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.core import migrate
from backend.core.db import make_engine
from backend.core.settings import load_settings
from backend.main import create_app
from backend.products.models import Product
from backend.widget import service
from backend.widget.models import SiteKey, SiteKeyCreate
from tests.pg import PgDatabase
from tests.widget.helpers import SHOP

MakeSiteKey = Callable[..., SiteKey]


def create_key(
    session: Session, product: Product, origins: Sequence[str] = (SHOP,), name: str = "site"
) -> SiteKey:
    """A site key of ``product`` allowing ``origins`` (committed by the service)."""
    data = SiteKeyCreate(name=name, allowed_origins=list(origins))
    return service.create_site_key(session=session, product_id=product.id or 0, data=data)


@pytest.fixture
def make_site_key(session: Session) -> MakeSiteKey:
    """Create a site key: ``make_site_key(product, origins=[...], name=...)``."""

    def _make(product: Product, origins: Sequence[str] = (SHOP,), name: str = "site") -> SiteKey:
        return create_key(session, product, origins, name)

    return _make


@pytest.fixture
def widget(client: TestClient) -> TestClient:
    """The API client, as a visitor's browser uses it (requests share the test's session)."""
    return client


@dataclass
class OwnDatabase:
    """An API on a database of the test's own: ``session`` commits for real, the app sees it."""

    client: TestClient
    session: Session


@pytest.fixture
def own_db(db_backend: str, tmp_path: Path) -> Iterator[OwnDatabase]:
    """For checks that read through the app's own engine (the CORS preflight reads the origins
    of every active key): it cannot see the test's rolled-back transaction, so the data is
    committed to a fresh database (SQLite file, or a PostgreSQL database dropped after)."""
    pg = PgDatabase.create("deskpilot_w") if db_backend == "postgres" else None
    url = pg.url if pg else f"sqlite:///{tmp_path / 'own.sqlite3'}"
    try:
        migrate.upgrade(url)
        settings = load_settings(database_url=url, data_dir=tmp_path / "own-var")
        engine = make_engine(url)
        try:
            with TestClient(create_app(settings)) as client, Session(engine) as session:
                yield OwnDatabase(client, session)
        finally:
            engine.dispose()
    finally:
        if pg:
            pg.drop()
