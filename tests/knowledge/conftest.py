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

from backend.core.settings import Settings, get_settings
from backend.main import create_app
from backend.worker.runner import run_job
from tests.factories import auth, make_product, make_user
from tests.stack import running_stack


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
    """The in-process API on a committed database of its own; jobs run by ``KB.run``."""
    with running_stack(tmp_path, "deskpilot_kb", backend=request.param) as running:
        # the job runner reads the process's settings: point them at this stack
        monkeypatch.setenv("DESKPILOT_DATABASE_URL", running.url)
        monkeypatch.setenv("DESKPILOT_DATA_DIR", running.env["DESKPILOT_DATA_DIR"])
        monkeypatch.setenv("DESKPILOT_INDEX_POLL_S", "0.05")
        monkeypatch.setenv("DESKPILOT_KB_ALLOW_PRIVATE_URLS", "true")
        get_settings.cache_clear()
        running.on_stop(get_settings.cache_clear)
        settings = get_settings()
        with running.session() as session:
            product = make_product(session)
            owner = make_user(session, owner=True)
            headers = auth(owner, settings)
            product_id = product.id or 0
        with TestClient(create_app(settings)) as client:
            yield KB(client, running.engine, settings, product_id, headers)
