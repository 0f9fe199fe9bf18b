"""Login, the current user, and owner-only user management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from backend.api.deps import CurrentUser, OwnerUser, SessionDep, SettingsDep, require_owner
from backend.core.errors import InvalidInput, error_responses
from backend.core.openapi import Id
from backend.core.settings import Settings
from backend.products import service as products
from backend.users import service
from backend.users.models import (
    LoginRequest,
    Me,
    TokenPublic,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)

auth_router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(401, 403))
users_router = APIRouter(
    prefix="/users",
    tags=["users"],
    dependencies=[Depends(require_owner)],
    responses=error_responses(401, 403),
)


def _token_for(user: User, settings: Settings) -> TokenPublic:
    token, expires = service.issue_token(
        user=user,
        secret=settings.secret_key.get_secret_value(),
        minutes=settings.access_token_minutes,
    )
    return TokenPublic(access_token=token, expires_at=expires)


@auth_router.post("/login", response_model=TokenPublic, responses=error_responses(400, 422))
def login(body: LoginRequest, session: SessionDep, settings: SettingsDep) -> TokenPublic:
    """Exchange email and password (JSON) for a bearer token with an expiry."""
    user = service.authenticate(session=session, email=body.email, password=body.password)
    return _token_for(user, settings)


@auth_router.post("/token", response_model=TokenPublic, responses=error_responses(400, 422))
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenPublic:
    """OAuth2 password flow (form: ``username`` = email, ``password``) for the docs' Authorize."""
    user = service.authenticate(session=session, email=form.username, password=form.password)
    return _token_for(user, settings)


@auth_router.get("/me", response_model=Me)
def me(user: CurrentUser, session: SessionDep) -> Me:
    """The logged-in user with their products and roles."""
    return Me(
        **UserPublic.model_validate(user).model_dump(),
        memberships=products.memberships_of(session=session, user=user),
    )


@users_router.get("", response_model=list[UserPublic])
def list_users(session: SessionDep) -> list[User]:
    """Every user (owner only)."""
    return service.list_users(session=session)


@users_router.post(
    "", response_model=UserPublic, status_code=201, responses=error_responses(400, 409, 422)
)
def create_user(body: UserCreate, session: SessionDep) -> User:
    """Create a user (owner only); add them to products with the admin members endpoints."""
    return service.create_user(session=session, data=body)


@users_router.patch(
    "/{user_id}", response_model=UserPublic, responses=error_responses(400, 404, 422)
)
def update_user(user_id: Id, body: UserUpdate, session: SessionDep, owner: OwnerUser) -> User:
    """Change name, password, owner flag, or disable a user (owner only; takes effect at once)."""
    user = service.get_user(session=session, user_id=user_id)
    if user.id == owner.id and (body.is_active is False or body.is_owner is False):
        raise InvalidInput("you cannot disable or demote yourself", code="self_lockout")
    return service.update_user(session=session, user=user, data=body)
