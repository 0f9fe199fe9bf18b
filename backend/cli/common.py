"""Shared CLI helpers: settings with one-line errors, a database session, error exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlmodel import Session

from backend.core.db import make_engine
from backend.core.errors import DeskpilotError
from backend.core.settings import Settings, SettingsError, get_settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    """Settings from the environment, or exit 2 with one line naming the bad setting."""
    try:
        return get_settings()
    except SettingsError as exc:
        raise fail(str(exc), code=2) from None


@contextmanager
def db_session() -> Iterator[Session]:
    """A session on the configured database; DeskpilotError becomes a one-line error, exit 1."""
    settings = settings_or_exit()
    engine = make_engine(settings.sqlalchemy_url, connect_timeout_s=settings.db_connect_timeout_s)
    try:
        with Session(engine) as session:
            yield session
    except DeskpilotError as exc:
        raise fail(exc.message) from None
    finally:
        engine.dispose()
