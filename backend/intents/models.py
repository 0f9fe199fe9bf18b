"""Intent and example tables and schemas.

Reserved intents (the answer policy relies on them) exist in every product and cannot be deleted.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow

RESERVED_INTENTS = {
    "human_agent": "The customer asks for a person.",
    "complaint": "The customer complains about the service.",
    "greeting": "Hello, hi, good morning.",
    "thanks": "Thanks, that helped.",
    "goodbye": "Bye, that's all.",
    "out_of_scope": "Anything this product's bot cannot help with.",
}
OUT_OF_SCOPE = "out_of_scope"
MAX_EXAMPLE_CHARS = 2000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.?\-]{0,99}$")


def check_intent_name(value: str) -> str:
    """Intent names: letters, digits, ``_ . ? -``, at most 100 characters, no spaces."""
    value = value.strip()
    if not _NAME.match(value):
        raise ValueError(
            "intent names use letters, digits and _ . ? - (no spaces), at most 100 characters"
        )
    return value


def normalize_text(text: str) -> str:
    """The key duplicates are found by: case and whitespace do not make a new example."""
    return " ".join(text.split()).casefold()


IntentName = Annotated[str, AfterValidator(check_intent_name)]


class Intent(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("product_id", "name", name="uq_intent_product_name"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    reserved: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class IntentExample(SQLModel, table=True):
    __tablename__ = "intent_example"
    __table_args__ = (UniqueConstraint("product_id", "text_key", name="uq_example_product_text"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    intent_id: int = Field(foreign_key="intent.id", index=True, ondelete="CASCADE")
    text: str = Field(sa_column=Column(Text, nullable=False))
    # normalize_text(text), hashed to stay indexable on every backend
    text_key: str = Field(max_length=64)
    source: str = Field(default="manual", max_length=16)  # manual | import | demo | feedback
    created_at: datetime = Field(default_factory=utcnow)


class IntentCreate(SQLModel):
    name: IntentName
    description: str = Field(default="", max_length=500)


class IntentUpdate(SQLModel):
    name: IntentName | None = None
    description: str | None = Field(default=None, max_length=500)


class IntentPublic(SQLModel):
    id: int
    name: str
    description: str
    reserved: bool
    examples: int = 0
    created_at: datetime


class ExampleCreate(SQLModel):
    text: str = Field(min_length=1, max_length=MAX_EXAMPLE_CHARS)


class ExamplePublic(SQLModel):
    id: int
    intent: str
    text: str
    source: str
    created_at: datetime


class ImportReport(SQLModel):
    """What an import did, and what it refused or warned about (first lines of each kind)."""

    rows: int = 0
    added: int = 0
    duplicates: int = 0
    conflicts: int = 0
    empty: int = 0
    unknown_intents: dict[str, int] = Field(default_factory=dict)
    created_intents: list[str] = Field(default_factory=list)
    conflict_samples: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class IntentModel(SQLModel, table=True):
    """A trained intent classifier of a product (a folder under DATA_DIR); one may be active."""

    __tablename__ = "intent_model"
    __table_args__ = (UniqueConstraint("product_id", "version", name="uq_intent_model_version"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    version: str = Field(max_length=64)
    path: str = Field(max_length=1000)
    base_model: str = Field(default="", max_length=500)
    data_hash: str = Field(default="", max_length=64)
    n_examples: int = 0
    n_intents: int = 0
    temperature: float = 1.0
    threshold: float = 0.0
    metrics: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    is_active: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    # when it last became active: the version active before the current one is the one
    # a rollback returns to, so pruning keeps it (backend/intents/pruning.py)
    activated_at: datetime | None = None
    # when pruning removed its folder; the row stays, as the history of trained models
    pruned_at: datetime | None = None


class IntentModelPublic(SQLModel):
    version: str
    base_model: str
    data_hash: str
    n_examples: int
    n_intents: int
    temperature: float
    threshold: float
    metrics: dict[str, float]
    is_active: bool
    created_at: datetime
    pruned_at: datetime | None = None


class PredictRequest(SQLModel):
    text: str = Field(max_length=20000)


class PredictionPublic(SQLModel):
    intent: str
    confidence: float
    is_out_of_scope: bool
    top_k: list[tuple[str, float]]
    model_version: str | None
