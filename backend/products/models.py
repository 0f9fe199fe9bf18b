"""Product tables and schemas."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


class ProductBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)


class ProductCreate(ProductBase):
    slug: str = Field(min_length=2, max_length=63)

    @field_validator("slug", mode="before")
    @classmethod
    def _slug(cls, v: object) -> object:
        if not isinstance(v, str):
            return v
        v = v.strip().lower()
        if not re.match(SLUG_PATTERN, v):
            raise ValueError("use 2-63 lowercase letters, digits and hyphens, starting with one")
        return v


class ProductUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class Product(ProductBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=63, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class ProductPublic(ProductBase):
    id: int
    slug: str
    created_at: datetime
