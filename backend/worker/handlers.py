"""Every domain's job handlers, imported explicitly: importing a module registers its handlers.

Only the worker imports these (training loads torch); the API checks job kinds against
``backend.jobs.kinds.JobKind`` instead. A test checks that every kind has a handler here.
"""

from __future__ import annotations

from types import ModuleType

from backend.intents import handlers as intents_handlers
from backend.jobs import handlers as jobs_handlers
from backend.jobs import registry
from backend.knowledge import handlers as knowledge_handlers

HANDLER_MODULES: tuple[ModuleType, ...] = (jobs_handlers, knowledge_handlers, intents_handlers)


def handler_for(kind: str) -> registry.Handler:
    """The handler of job ``kind``, registered by one of ``HANDLER_MODULES``."""
    return registry.handler_for(kind)
