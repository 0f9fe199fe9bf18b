"""User and membership tables and schemas.

A user has a role, ``admin`` or ``agent``, in each product they belong to; an owner (superuser)
manages every product and user.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow
from backend.core.security import MIN_PASSWORD_LENGTH


class Role(enum.StrEnum):
    admin = "admin"
    agent = "agent"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(value: str) -> str:
    """Lower-case and check the shape of an email (internal domains such as .local are allowed)."""
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):  # length first: the pattern is O(n²)
        raise ValueError("not a valid email address")
    return value


Email = Annotated[str, AfterValidator(normalize_email)]


class UserBase(SQLModel):
    email: Email = Field(max_length=254)
    full_name: str = Field(default="", max_length=200)


class UserCreate(UserBase):
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)
    is_owner: bool = False


class UserUpdate(SQLModel):
    full_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=256)
    is_active: bool | None = None
    is_owner: bool | None = None


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    hashed_password: str
    is_active: bool = True
    is_owner: bool = False
    # Bumped on password change or disable: every token issued before stops working at once.
    token_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class MembershipPublic(SQLModel):
    product_id: int
    product_slug: str
    role: Role


class UserPublic(UserBase):
    id: int
    is_active: bool
    is_owner: bool
    created_at: datetime


class Me(UserPublic):
    memberships: list[MembershipPublic]


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("user_id", "product_id", name="uq_membership_user_product"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow)


class MemberSet(SQLModel):
    email: Email
    role: Role


class MemberPublic(SQLModel):
    user_id: int
    email: str
    full_name: str
    role: Role
    is_active: bool


class LoginRequest(SQLModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class TokenPublic(SQLModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_at: datetime
