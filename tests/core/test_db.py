"""SQLite runs in WAL mode with a busy timeout; concurrent writers don't fail; transactions,
SAVEPOINTs and DDL are real transactions (the per-test rollback relies on it)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

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


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_read_then_write_after_another_writer(tmp_path: Path) -> None:
    """A job reads, works while its progress is committed by another connection, then writes:
    the write waits for the lock instead of failing on a stale snapshot ("database is locked")."""
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    job, progress = make_engine(url), make_engine(url)
    with job.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    with Session(job) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        with progress.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        session.execute(text("INSERT INTO t VALUES (2)"))
        session.commit()
    assert _count(job) == 2
    job.dispose()
    progress.dispose()


def test_savepoints_and_ddl_are_transactional(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    with engine.connect() as conn:
        outer = conn.begin()
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        outer.rollback()  # the DDL too
        outer = conn.begin()
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        outer.commit()
    with engine.connect() as conn:
        outer = conn.begin()
        nested = conn.begin_nested()
        conn.execute(text("INSERT INTO t VALUES (1)"))
        nested.commit()  # RELEASE: the row is in the outer transaction, not committed
        nested = conn.begin_nested()
        conn.execute(text("INSERT INTO t VALUES (2)"))
        nested.rollback()
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]
        assert _count(engine) == 0  # another connection sees nothing yet
        outer.rollback()
    assert _count(engine) == 0
    engine.dispose()
