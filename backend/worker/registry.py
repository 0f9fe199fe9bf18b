"""Job kinds and their handlers. Domains register handlers; the runner looks them up by kind."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

from backend.core.errors import InvalidInput

# Modules whose import registers handlers; later domains append theirs here.
HANDLER_MODULES = ["backend.jobs.handlers"]


class JobContext(Protocol):
    """What a handler gets: the job's identity and a way to report progress."""

    job_id: int
    product_id: int | None

    def progress(self, percent: float, message: str = "") -> None: ...


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
