"""Job handlers by kind. Each domain's ``handlers`` module registers its own with ``register``;
the worker imports those modules explicitly (``backend.worker.handlers``), the API never does."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlmodel import Session

from backend.core.errors import InvalidInput
from backend.jobs.kinds import JobKind


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


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator: register ``fn`` as the handler of job ``kind``."""

    def wrap(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return wrap


def require_known(kind: str) -> None:
    """InvalidInput unless ``kind`` is a job kind, or has a handler registered in this process
    (checked before a job is recorded)."""
    if kind not in JobKind.__members__.values() and kind not in _HANDLERS:
        known = ", ".join(sorted({*JobKind, *_HANDLERS}))
        raise InvalidInput(f"unknown job kind '{kind}'; known: {known}")


def handler_for(kind: str) -> Handler:
    """The handler registered for ``kind`` in this process; InvalidInput when there is none."""
    try:
        return _HANDLERS[kind]
    except KeyError:
        known = ", ".join(sorted(_HANDLERS))
        raise InvalidInput(f"no handler for job kind '{kind}'; registered: {known}") from None


def registered_kinds() -> set[str]:
    """The kinds with a handler in this process."""
    return set(_HANDLERS)
