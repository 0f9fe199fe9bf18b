"""API keys for the OpenAI-compatible endpoint: one product each, stored only as a hash."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.core.db import utcnow

KEY_PREFIX = "dp-"


class ApiKeyCreate(SQLModel):
    name: str = Field(min_length=1, max_length=200)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16)  # shown in lists so people can tell keys apart
    key_hash: str = Field(max_length=64, unique=True, index=True)  # sha256 hex of the key
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyPublic(SQLModel):
    id: int
    product_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str  # shown once, at creation
