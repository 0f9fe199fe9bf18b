"""Imports every table module so SQLModel.metadata is complete (Alembic, tests)."""

from __future__ import annotations

import importlib

TABLE_MODULES = [
    "backend.products.models",
    "backend.users.models",
    "backend.jobs.models",
    "backend.knowledge.models",
    "backend.intents.models",
    "backend.widget.models",
    "backend.conversations.models",
    "backend.openai_api.models",
    "backend.answers.models",
    "backend.feedback.models",
]


def import_all_models() -> None:
    """Import each domain's models module (registers its tables)."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
