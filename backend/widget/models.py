"""Site keys: the public id a site embeds in its ``<script>`` tag, and the origins it may use.

The public id is not a secret (it sits in the page): it names the product and, with the allowed
origins, stops other sites from using a product's widget from a browser. Revoking a key stops
every visitor token issued for it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import field_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from backend.conversations.models import ConversationPublic
from backend.core.db import utcnow

MAX_ORIGINS = 50


def normalize_origin(value: str) -> str:
    """``https://Shop.Example.com/`` -> ``https://shop.example.com``; ``*`` stays ``*``.

    Raises ValueError for anything that is not a bare http(s) origin (no path, query or user).
    """
    value = value.strip()
    if value == "*":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin such as https://shop.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{value!r} must be an origin only (scheme, host, port), without a path")
    default = {"http": 80, "https": 443}[parts.scheme]
    # browsers leave a default port out of Origin: so must we, or the key never matches
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


class SiteKeyCreate(SQLModel):
    name: str = Field(default="website", min_length=1, max_length=200)
    allowed_origins: list[str] = Field(min_length=1, max_length=MAX_ORIGINS)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        return sorted({normalize_origin(o) for o in v})


class SiteKey(SQLModel, table=True):
    __tablename__ = "site_key"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    public_id: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    allowed_origins: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class SiteKeyPublic(SQLModel):
    id: int
    product_id: int
    public_id: str
    name: str
    allowed_origins: list[str]
    is_active: bool
    created_at: datetime
    revoked_at: datetime | None


class ConversationStart(SQLModel):
    """Body of ``POST /api/v1/widget/conversations`` (or send ``X-Deskpilot-Site-Key``)."""

    site_key: str | None = Field(default=None, max_length=64)


class ConversationStarted(SQLModel):
    """A new widget conversation and the visitor token to use with it."""

    conversation: ConversationPublic
    visitor_token: str
    visitor_token_expires_at: datetime
