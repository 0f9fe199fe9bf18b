"""The one helper that starts a test stack: a database of its own (PostgreSQL, or a SQLite file),
the API and worker processes, a fault proxy, all stopped by a single try/finally.

    with running_stack(tmp, "deskpilot_e2e", env={"DESKPILOT_LLM_BASE_URL": ""}) as stack:
        with stack.session() as session:
            ...  # seed: the processes see what is committed here
        base = stack.start_api()
        worker = stack.start_worker()

Whatever a test started through it (processes, proxies, engines) is stopped, and the database
dropped, however the test ends. Fixtures that build stacks share them as widely as their tests
allow (a package, a module); tests that kill or reconfigure processes get one each.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.core import migrate
from backend.core.db import make_engine
from backend.core.settings import Settings, load_settings
from tests.faultproxy import FaultProxy
from tests.pg import PgDatabase
from tests.procs import Procs, free_port

Backend = Literal["postgres", "sqlite"]


@dataclass
class TestStack:
    """A running stack: its database, settings, processes and what to stop at the end."""

    __test__ = False  # not a test class, whatever its name

    tmp: Path
    url: str
    settings: Settings  # as the stack's processes read them (database, data folder)
    procs: Procs
    _cleanups: list[Callable[[], None]] = field(default_factory=list)
    _engine: Engine | None = None

    @property
    def env(self) -> dict[str, str]:
        """The processes' environment: change it before starting the next one."""
        return self.procs.env

    @property
    def engine(self) -> Engine:
        """An engine on the stack's database (disposed when the stack stops)."""
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the stack's database; what it commits, the processes see."""
        with Session(self.engine) as session:
            yield session

    def start_api(self, port: int | None = None) -> str:
        """Start an API process (``deskpilot serve``); returns its base URL once it is healthy."""
        return self.procs.start_api(port or free_port())

    def start_worker(self, name: str = "worker", *args: str) -> subprocess.Popen[bytes]:
        """Start a Celery worker process (``deskpilot worker ARGS``), logging to ``name``.log."""
        return self.procs.start(name, "worker", *args)

    def start_proxy(self, upstream: str) -> FaultProxy:
        """A fault proxy in front of ``upstream`` (its URL is ``proxy.url``)."""
        proxy = FaultProxy(upstream)
        proxy.start()
        self.on_stop(proxy.stop)
        return proxy

    def on_stop(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when the stack stops (before its database is dropped)."""
        self._cleanups.append(cleanup)

    def stop(self) -> None:
        """Stop every process and helper, last started first; dispose the engine."""
        self.procs.close()
        errors: list[BaseException] = []
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception as exc:  # keep stopping the rest
                errors.append(exc)
        if self._engine is not None:
            self._engine.dispose()
        if errors:
            raise errors[0]


@contextlib.contextmanager
def running_stack(
    tmp: Path, prefix: str, *, env: Mapping[str, str] | None = None, backend: Backend = "postgres"
) -> Iterator[TestStack]:
    """A migrated database of its own (dropped after) and a process supervisor on it."""
    pg = PgDatabase.create(prefix) if backend == "postgres" else None
    url = pg.url if pg else f"sqlite:///{tmp / f'{prefix}.sqlite3'}"
    stack: TestStack | None = None
    try:
        migrate.upgrade(url)
        data_dir = tmp / "var"
        base_env = {"DESKPILOT_DATABASE_URL": url, "DESKPILOT_DATA_DIR": str(data_dir)}
        procs = Procs({**base_env, **(env or {})}, tmp)
        settings = load_settings(database_url=url, data_dir=data_dir)
        stack = TestStack(tmp, url, settings, procs)
        yield stack
    finally:
        try:
            if stack is not None:
                stack.stop()
        finally:
            if pg is not None:
                pg.drop()
