"""SQLite runs in WAL mode with a busy timeout; concurrent writers don't fail."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from backend.core.db import SQLITE_BUSY_TIMEOUT_MS, make_engine

pytestmark = pytest.mark.unit


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_two_engines_write_concurrently(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    a, b = make_engine(url), make_engine(url)
    with a.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    errors: list[BaseException] = []

    def write(engine: object, start: int) -> None:
        try:
            for i in range(50):
                with engine.begin() as conn:  # type: ignore[attr-defined]
                    conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": start + i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(e, i * 100)) for i, e in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with a.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 100
    a.dispose()
    b.dispose()
