"""User, membership and login operations (keyword-only; the only place that commits them).

Adding a member to a product and listing a user's products are in ``products.service`` (they
read the product): ``products`` sits above ``users``, never the other way round.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from backend.core.db import commit_or_conflict, utcnow
from backend.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from backend.core.security import (
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)
from backend.users.models import (
    MemberPublic,
    Membership,
    Role,
    User,
    UserCreate,
    UserUpdate,
)

# A real hash to verify against when the email is unknown, so timing does not reveal accounts.
_DUMMY_HASH = hash_password("deskpilot-timing-equaliser")


def get_user_by_email(*, session: Session, email: str) -> User | None:
    """The user with this email (case-insensitive), if any."""
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def get_user(*, session: Session, user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def create_user(*, session: Session, data: UserCreate) -> User:
    """Create a user with a hashed password; the email must be unused."""
    if get_user_by_email(session=session, email=data.email) is not None:
        raise Conflict(f"a user with email {data.email} already exists")
    user = User(
        email=data.email,
        full_name=data.full_name,
        hashed_password=hash_password(data.password),
        is_owner=data.is_owner,
    )
    session.add(user)
    commit_or_conflict(session, f"a user with email {data.email} already exists")
    session.refresh(user)
    return user


def update_user(*, session: Session, user: User, data: UserUpdate) -> User:
    """Apply changes; a new password or a disable revokes every token issued before."""
    fields = data.model_dump(exclude_unset=True, exclude_none=True)  # null keeps the value
    if "password" in fields:
        user.hashed_password = hash_password(fields.pop("password"))
        user.token_version += 1
    if fields.get("is_active") is False and user.is_active:
        user.token_version += 1
    for key, value in fields.items():
        setattr(user, key, value)
    user.updated_at = utcnow()
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def list_users(*, session: Session) -> list[User]:
    """Every user, oldest first."""
    return list(session.exec(select(User).order_by(col(User.id))).all())


def authenticate(*, session: Session, email: str, password: str) -> User:
    """The user for these credentials; one message for unknown email and wrong password."""
    user = get_user_by_email(session=session, email=email)
    if user is None:
        verify_password(password, _DUMMY_HASH)
        raise Unauthorized("wrong email or password", code="invalid_credentials")
    if not verify_password(password, user.hashed_password):
        raise Unauthorized("wrong email or password", code="invalid_credentials")
    if not user.is_active:
        raise Forbidden("this account is disabled", code="user_disabled")
    return user


def issue_token(*, user: User, secret: str, minutes: int) -> tuple[str, datetime]:
    """A signed access token for ``user``."""
    assert user.id is not None
    return create_access_token(
        user_id=user.id, token_version=user.token_version, secret=secret, minutes=minutes
    )


def user_from_token(*, session: Session, token: str, secret: str) -> User:
    """Resolve a bearer token to an active user, checked against the database on every call."""
    claims = decode_access_token(token, secret=secret)
    user = session.get(User, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise Unauthorized("token revoked; log in again", code="token_revoked")
    if not user.is_active:
        raise Forbidden("this account is disabled", code="user_disabled")
    return user


def role_in(*, session: Session, user: User, product_id: int) -> Role | None:
    """The user's role in a product, or None when they are not a member."""
    membership = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.product_id == product_id)
    ).first()
    return membership.role if membership else None


def remove_membership(*, session: Session, user_id: int, product_id: int) -> None:
    """Remove a user from a product; refuses to remove its last admin."""
    membership = session.exec(
        select(Membership).where(Membership.user_id == user_id, Membership.product_id == product_id)
    ).first()
    if membership is None:
        raise NotFound(f"user {user_id} is not a member of product {product_id}")
    if membership.role == Role.admin and _admin_count(session, product_id) <= 1:
        raise InvalidInput("cannot remove the product's last admin", code="last_admin")
    session.delete(membership)
    session.commit()


def _admin_count(session: Session, product_id: int) -> int:
    return len(
        session.exec(
            select(Membership.id).where(
                Membership.product_id == product_id, Membership.role == Role.admin
            )
        ).all()
    )


def list_members(*, session: Session, product_id: int) -> list[MemberPublic]:
    """The product's members with their roles."""
    rows = session.exec(
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(Membership.product_id == product_id)
        .order_by(col(User.id))
    ).all()
    return [
        MemberPublic(
            user_id=u.id or 0,
            email=u.email,
            full_name=u.full_name,
            role=m.role,
            is_active=u.is_active,
        )
        for m, u in rows
    ]
