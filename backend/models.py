"""Every table module, imported explicitly, so ``SQLModel.metadata`` is complete.

Alembic (``backend/migrations/env.py``), the worker's engine and the tests call ``all_tables()``;
a new domain with tables adds its ``models`` module here. It sits above the domains (it imports
each of them), beside ``main`` and ``cli``; ``core`` never imports it.
"""

from __future__ import annotations

from types import ModuleType

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from backend.answers import models as answers_models
from backend.conversations import models as conversations_models
from backend.feedback import models as feedback_models
from backend.intents import models as intents_models
from backend.jobs import models as jobs_models
from backend.knowledge import models as knowledge_models
from backend.openai_api import models as openai_api_models
from backend.products import models as products_models
from backend.users import models as users_models
from backend.widget import models as widget_models

TABLE_MODULES: tuple[ModuleType, ...] = (
    products_models,
    users_models,
    jobs_models,
    knowledge_models,
    intents_models,
    widget_models,
    conversations_models,
    openai_api_models,
    answers_models,
    feedback_models,
)


def all_tables() -> MetaData:
    """SQLModel's metadata, holding the tables of every module in ``TABLE_MODULES``."""
    return SQLModel.metadata
