"""A committed database of the test's own (the job runner opens its own sessions), and an API
client on it whose jobs are run in-process by the real runner and handlers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.core import migrate
from backend.core.db import make_engine
from backend.core.settings import Settings, get_settings
from backend.main import create_app
from backend.worker.runner import run_job
from tests.factories import auth, make_product, make_user
from tests.pg import PgDatabase


@dataclass
class KB:
    client: TestClient
    engine: Engine
    settings: Settings
    product_id: int
    headers: dict[str, str]

    def url(self, path: str = "") -> str:
        return f"/api/v1/admin/products/{self.product_id}{path}"

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run a queued job with the real runner, then return its final state from the API."""
        run_job(job["id"], self.engine)
        resp = self.client.get(f"/api/v1/admin/jobs/{job['id']}", headers=self.headers)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def upload(self, name: str, data: bytes, **form: str) -> dict[str, Any]:
        resp = self.client.post(
            self.url("/documents"), files={"file": (name, data)}, data=form, headers=self.headers
        )
        assert resp.status_code == 202, resp.text
        return self.run(resp.json())

    def search(self, query: str, **body: Any) -> dict[str, Any]:
        resp = self.client.post(
            self.url("/knowledge/search"), json={"query": query, **body}, headers=self.headers
        )
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


@pytest.fixture(params=["sqlite", "postgres"])
def kb(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KB]:
    pg = None
    if request.param == "postgres":
        pg = PgDatabase.create("deskpilot_kb")
        url = pg.url
    else:
        url = f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    migrate.upgrade(url)
    monkeypatch.setenv("DESKPILOT_DATABASE_URL", url)
    monkeypatch.setenv("DESKPILOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DESKPILOT_INDEX_POLL_S", "0.05")
    monkeypatch.setenv("DESKPILOT_KB_ALLOW_PRIVATE_URLS", "true")
    get_settings.cache_clear()
    settings = get_settings()
    engine = make_engine(url)
    with Session(engine) as session:
        product = make_product(session)
        owner = make_user(session, owner=True)
        headers = auth(owner, settings)
        product_id = product.id or 0
    try:
        with TestClient(create_app(settings)) as client:
            yield KB(client, engine, settings, product_id, headers)
    finally:
        engine.dispose()
        get_settings.cache_clear()
        if pg is not None:
            pg.drop()
