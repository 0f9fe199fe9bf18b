"""Job kinds and their handlers. Domains register handlers; the runner looks them up by kind."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlmodel import Session

from backend.core.errors import InvalidInput

# Modules whose import registers handlers; later domains append theirs here.
HANDLER_MODULES = [
    "backend.jobs.handlers",
    "backend.knowledge.handlers",
    "backend.intents.handlers",
]


class JobContext(Protocol):
    """What a handler gets: the job's identity, progress reporting and database sessions."""

    job_id: int
    product_id: int | None

    def progress(self, percent: float, message: str = "") -> None:
        """Record progress (0-100); raises when the job was reaped meanwhile (stop working)."""
        ...

    def session(self) -> AbstractContextManager[Session]:
        """A session on the job's database (the worker's engine)."""
        ...


Handler = Callable[[JobContext, dict[str, Any]], dict[str, Any] | None]
_HANDLERS: dict[str, Handler] = {}
_loaded = False


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator: register ``fn`` as the handler of job ``kind``."""

    def wrap(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return wrap


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        _loaded = True


def require_kind(kind: str) -> Handler:
    """The handler of ``kind``; InvalidInput when no domain registered it."""
    _load()
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise InvalidInput(
            f"unknown job kind '{kind}'; known: {', '.join(sorted(_HANDLERS))}"
        ) from None
