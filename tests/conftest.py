"""Shared fixtures: settings for the test process, SQLite and PostgreSQL databases, API clients.

The test process itself publishes jobs to kombu's in-memory broker (nothing consumes them); tests
that need a real worker start real processes (API, worker) on Redis and a database of their own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="deskpilot-tests-"))
os.environ.update(
    {
        "DESKPILOT_ENV": "test",
        "DESKPILOT_DATA_DIR": str(_TMP / "var"),
        "DESKPILOT_BROKER_URL": "memory://",
        # No generator unless a test brings one (a fake, or tests/live's real vLLM).
        "DESKPILOT_LLM_BASE_URL": "",
        # Models train without the second opinion (minutes of mpnet per training) unless a test
        # asks for it; a model folder built from split weights goes to the session's tmp.
        "DESKPILOT_INTENT_SECOND_OPINION_MODEL": "",
        "DESKPILOT_MODEL_CACHE": str(_TMP / "models"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
)
for _name in ("DESKPILOT_DATABASE_URL", "DESKPILOT_SECRET_KEY", "DESKPILOT_ADMIN_PASSWORD"):
    os.environ.pop(_name, None)

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from backend.api.deps import get_session  # noqa: E402
from backend.core import migrate  # noqa: E402
from backend.core.db import make_engine  # noqa: E402
from backend.core.settings import Settings, get_settings, load_settings  # noqa: E402
from backend.main import create_app  # noqa: E402
from tests.pg import PgDatabase  # noqa: E402

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def database_urls() -> Iterator[dict[str, str]]:
    """One migrated database per backend for the session (SQLite file, fresh PostgreSQL db)."""
    sqlite_url = f"sqlite:///{_TMP / 'test.sqlite3'}"
    pg = PgDatabase.create("deskpilot_t")
    urls = {"sqlite": sqlite_url, "postgres": pg.url}
    for url in urls.values():
        migrate.upgrade(url)
    try:
        yield urls
    finally:
        pg.drop()


@pytest.fixture(scope="session")
def engines(database_urls: dict[str, str]) -> Iterator[dict[str, Engine]]:
    built = {name: make_engine(url) for name, url in database_urls.items()}
    yield built
    for engine in built.values():
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def session(engines: dict[str, Engine], db_backend: str) -> Iterator[Session]:
    """A session whose every commit is rolled back at the end of the test."""
    connection = engines[db_backend].connect()
    transaction = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield sess
    finally:
        sess.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def settings(database_urls: dict[str, str], db_backend: str, tmp_path: Path) -> Settings:
    get_settings.cache_clear()
    return load_settings(database_url=database_urls[db_backend], data_dir=tmp_path / "var")


@pytest.fixture
def client(settings: Settings, session: Session) -> Iterator[TestClient]:
    """An API client whose requests share the test's rolled-back session."""
    app = create_app(settings)

    def _session() -> Iterator[Session]:
        yield session

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as test_client:
        yield test_client


KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test says what it needs (``unit``, ``integration`` or ``e2e``): ``-m unit`` must
    select exactly the tests that need no services, so an unmarked test is a collection error."""
    unmarked = [i.nodeid for i in items if not any(i.get_closest_marker(k) for k in KINDS)]
    if unmarked:
        raise pytest.UsageError(
            f"tests without a {', '.join(KINDS)} marker: " + ", ".join(unmarked[:20])
        )
