"""Database engines and sessions.

SQLite runs in WAL mode with a busy timeout because the API and the worker write to it at once;
PostgreSQL gets a connect timeout so an unreachable server fails readiness instead of hanging.

SQLite transactions follow SQLAlchemy's pysqlite recipe ("Serializable isolation / Savepoints /
Transactional DDL"): the driver is put in autocommit mode and deskpilot emits ``BEGIN`` itself.
pysqlite's own handling emits ``BEGIN`` only before INSERT/UPDATE/DELETE, never before SAVEPOINT
or DDL, so a released SAVEPOINT committed for real (the per-test rollback rolled nothing back)
and migrations were not atomic. One change to the recipe: ``BEGIN`` is emitted before the
transaction's first statement that is not a read, not at the start of every transaction. A
deferred ``BEGIN`` followed by a read pins a WAL snapshot; a later write in that transaction
then fails at once with "database is locked" if another connection committed in between (a job
that reads, works while its progress is committed by another connection, then writes), and
the busy timeout cannot help. Reads before the first write run as single statements, exactly as
they did under pysqlite's own handling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine

from backend.core.errors import Conflict

SQLITE_BUSY_TIMEOUT_MS = 15_000
# Statements that never need the transaction opened before them (everything else does: DML,
# DDL, SAVEPOINT, and WITH, which may prefix a write).
_SQLITE_READS = ("SELECT", "PRAGMA", "EXPLAIN")


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit in the driver: transactions are ours (see _sqlite_begin_before_write). The
    # pragmas run here, outside any transaction (journal_mode cannot change inside one).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_before_write(
    _conn: Any, cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    """Open the database transaction before the SQLAlchemy transaction's first non-read.

    SQLAlchemy always has a transaction in progress when it executes (autobegin) and ends it
    with the driver's commit()/rollback(), which end the database transaction when one is open.
    """
    if not cursor.connection.in_transaction and not statement.lstrip()[:7].upper().startswith(
        _SQLITE_READS
    ):
        cursor.execute("BEGIN")


def make_engine(url: str, *, connect_timeout_s: int = 5) -> Engine:
    """Create an engine for ``url`` with the per-backend settings deskpilot relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "before_cursor_execute", _sqlite_begin_before_write)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = connect_timeout_s
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for scripts and workers; services commit, this closes (rolling back on error)."""
    session = Session(engine)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Run a trivial query; raises if the database cannot be reached."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def utcnow() -> datetime:
    """Timezone-aware UTC now (SQLModel stores and returns datetimes in UTC)."""
    return datetime.now(UTC)


def commit_or_conflict(session: Session, message: str) -> None:
    """Commit; a unique-constraint violation rolls back and becomes a 409 Conflict."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(message) from None
