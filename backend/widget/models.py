"""Site keys: the public id a site embeds in its ``<script>`` tag, and the origins it may use.

The public id is not a secret (it sits in the page): it names the product and, with the allowed
origins, stops other sites from using a product's widget from a browser. Revoking a key stops
every visitor token issued for it.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, Column, text
from sqlmodel import Field, SQLModel

from backend.conversations.models import ConversationPublic
from backend.core.db import utcnow

MAX_ORIGINS = 50
DEFAULT_COLOR = "#1f6feb"
DEFAULT_GREETING = "Hi! How can I help?"
DEFAULT_RATE_LIMIT = 20  # messages per visitor per minute
DEFAULT_IP_RATE_LIMIT = 60  # requests per client IP per minute
MAX_RATE_LIMIT = 100_000
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Deliberately simple (one @, a dotted domain, no spaces): the address is shown to agents, not
# mailed by us, so a stricter check would only refuse unusual but valid addresses.
_EMAIL = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]+\.[^@\s<>.]{2,}$")


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


class Position(enum.StrEnum):
    right = "right"
    left = "left"


class Language(enum.StrEnum):
    """The widget's language; ``auto`` follows the visitor's browser."""

    auto = "auto"
    en = "en"
    zh_CN = "zh-CN"


def _check_color(value: str) -> str:
    if not _HEX_COLOR.match(value):
        raise ValueError(f"{value!r} is not a colour such as #1f6feb (# and 6 hex digits)")
    return value.lower()


def _check_avatar(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL of an image")
    return value


def _check_title(value: object) -> object:
    # stripped; blank means unset
    return (value.strip() or None) if isinstance(value, str) else value


class WidgetTheme(SQLModel):
    """The widget's look. ``title`` null means the product's name."""

    color: str = Field(default=DEFAULT_COLOR, description="Accent colour, `#RRGGBB`.")
    position: Position = Position.right
    title: str | None = Field(default=None, max_length=80)
    greeting: str = Field(default=DEFAULT_GREETING, max_length=500)
    avatar_url: str | None = Field(default=None, max_length=2000)

    _color = field_validator("color")(_check_color)
    _avatar = field_validator("avatar_url")(_check_avatar)
    _title = field_validator("title", mode="before")(_check_title)

    @field_validator("greeting", mode="before")
    @classmethod
    def _greeting(cls, v: object) -> object:
        return v.strip() if isinstance(v, str) else v


class WidgetThemeUpdate(SQLModel):
    """Theme fields to change; absent ones keep their value. ``title``/``avatar_url`` null reset
    them (the product's name, no avatar)."""

    color: str | None = None
    position: Position | None = None
    title: str | None = Field(default=None, max_length=80)
    greeting: str | None = Field(default=None, max_length=500)
    avatar_url: str | None = Field(default=None, max_length=2000)

    _color = field_validator("color")(lambda v: None if v is None else _check_color(v))
    _avatar = field_validator("avatar_url")(_check_avatar)
    _title = field_validator("title", mode="before")(_check_title)

    @model_validator(mode="after")
    def _no_null(self) -> Self:
        _refuse_null(self, ("color", "position", "greeting"))
        return self


def _refuse_null(model: SQLModel, names: tuple[str, ...]) -> None:
    for name in names:
        if name in model.model_fields_set and getattr(model, name) is None:
            raise ValueError(f"{name} cannot be null (leave it out to keep its value)")


def _origins(v: list[str]) -> list[str]:
    return sorted({normalize_origin(o) for o in v})


class SiteKeyCreate(SQLModel):
    name: str = Field(default="website", min_length=1, max_length=200)
    allowed_origins: list[str] = Field(min_length=1, max_length=MAX_ORIGINS)
    theme: WidgetTheme = Field(default_factory=WidgetTheme)
    language: Language = Language.auto
    rate_limit_per_minute: int = Field(default=DEFAULT_RATE_LIMIT, ge=0, le=MAX_RATE_LIMIT)
    ip_rate_limit_per_minute: int = Field(default=DEFAULT_IP_RATE_LIMIT, ge=0, le=MAX_RATE_LIMIT)

    _allowed = field_validator("allowed_origins")(_origins)


class SiteKeyUpdate(SQLModel):
    """What ``PATCH .../site-keys/{id}`` may change; absent fields keep their value. A limit of 0
    turns that limit off."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(default=None, min_length=1, max_length=MAX_ORIGINS)
    theme: WidgetThemeUpdate | None = None
    language: Language | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=0, le=MAX_RATE_LIMIT)
    ip_rate_limit_per_minute: int | None = Field(default=None, ge=0, le=MAX_RATE_LIMIT)

    @field_validator("allowed_origins")
    @classmethod
    def _allowed(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _origins(v)

    @model_validator(mode="after")
    def _no_null(self) -> Self:
        names = ("name", "allowed_origins", "theme", "language")
        _refuse_null(self, (*names, "rate_limit_per_minute", "ip_rate_limit_per_minute"))
        return self


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
    # The WidgetTheme fields that were set ({} on keys made before themes: the defaults apply).
    theme: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default=text("'{}'")),
    )
    language: str = Field(
        default=Language.auto.value, max_length=8, sa_column_kwargs={"server_default": "auto"}
    )
    rate_limit_per_minute: int = Field(
        default=DEFAULT_RATE_LIMIT, sa_column_kwargs={"server_default": str(DEFAULT_RATE_LIMIT)}
    )
    ip_rate_limit_per_minute: int = Field(
        default=DEFAULT_IP_RATE_LIMIT,
        sa_column_kwargs={"server_default": str(DEFAULT_IP_RATE_LIMIT)},
    )


class SiteKeyPublic(SQLModel):
    id: int
    product_id: int
    public_id: str
    name: str
    allowed_origins: list[str]
    is_active: bool
    created_at: datetime
    revoked_at: datetime | None
    theme: WidgetTheme
    language: Language
    rate_limit_per_minute: int
    ip_rate_limit_per_minute: int


class WidgetConfig(SQLModel):
    """What the widget needs before it renders: ``GET /api/v1/widget/config``."""

    site_key: str
    product_name: str
    language: Language
    theme: WidgetTheme  # title filled in (the product's name unless set)


class VisitorIdentity(SQLModel):
    """Who the visitor says they are (``deskpilot.identify``); null clears a field."""

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)

    _name = field_validator("name", mode="before")(_check_title)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, v: object) -> object:
        if not isinstance(v, str):
            return v
        v = v.strip()
        if not v:
            return None
        if not _EMAIL.match(v):
            raise ValueError(f"{v!r} is not an email address")
        return v


class ConversationStart(SQLModel):
    """Body of ``POST /api/v1/widget/conversations`` (or send ``X-Deskpilot-Site-Key``)."""

    site_key: str | None = Field(default=None, max_length=64)


class ConversationStarted(SQLModel):
    """A new widget conversation and the visitor token to use with it."""

    conversation: ConversationPublic
    visitor_token: str
    visitor_token_expires_at: datetime
