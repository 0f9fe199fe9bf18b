"""A migrated SQLite database with a product `shop`, for CLI tests run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.settings import get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DESKPILOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DESKPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["product", "create", "shop"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()
