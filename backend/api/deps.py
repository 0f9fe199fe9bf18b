"""Annotated dependencies: settings, session, current user, and the one product-access check.

Every ``/api/v1/admin/*`` route is mounted (in ``backend.main``) on a router whose dependency is
:func:`require_product_admin`; it finds the product from the path (``product_id``, or the object
named by another id such as ``job_id``, through the app's ``ProductResolvers``, see
``backend.core.access``) and demands admin of it (owners pass everywhere). These dependencies sit
below every domain but ``users`` and ``products``, which they read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from backend.core.access import ProductResolvers
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.core.settings import Settings
from backend.products.models import Product
from backend.users import service as users
from backend.users.models import Role, User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    """The app's settings (held on app.state)."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A session on the app's engine, closed after the request."""
    with Session(request.app.state.engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
TokenDep = Annotated[str | None, Depends(oauth2)]


def get_current_user(session: SessionDep, settings: SettingsDep, token: TokenDep) -> User:
    """The active user behind the bearer token (401 without a valid token, 403 when disabled)."""
    if not token:
        raise Unauthorized("not authenticated: send 'Authorization: Bearer <token>'")
    return users.user_from_token(
        session=session, token=token, secret=settings.secret_key.get_secret_value()
    )


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_owner(user: CurrentUser) -> User:
    """The current user, who must be an owner."""
    if not user.is_owner:
        raise Forbidden("owner access required")
    return user


OwnerUser = Annotated[User, Depends(require_owner)]


@dataclass(frozen=True)
class ProductAccess:
    """Who is acting, on which product, with which role (owners act as admin)."""

    user: User
    product: Product
    role: Role


def _resolve_product(request: Request, session: Session) -> Product:
    resolvers: ProductResolvers = request.app.state.product_resolvers
    product_id = resolvers.product_id(session, request.path_params)
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product


def _product_access(
    request: Request, session: Session, user: User, roles: set[Role]
) -> ProductAccess:
    product = _resolve_product(request, session)
    if user.is_owner:
        return ProductAccess(user=user, product=product, role=Role.admin)
    role = users.role_in(session=session, user=user, product_id=product.id or 0)
    if role is None or role not in roles:
        raise Forbidden(
            f"{'admin' if roles == {Role.admin} else 'member'} access to this product required"
        )
    return ProductAccess(user=user, product=product, role=role)


def require_product_admin(
    request: Request, session: SessionDep, user: CurrentUser
) -> ProductAccess:
    """The one check behind every /api/v1/admin route: admin of the route's product."""
    return _product_access(request, session, user, {Role.admin})


def require_product_member(
    request: Request, session: SessionDep, user: CurrentUser
) -> ProductAccess:
    """Agent or admin of the route's product (agent views)."""
    return _product_access(request, session, user, {Role.admin, Role.agent})


AdminAccess = Annotated[ProductAccess, Depends(require_product_admin)]
MemberAccess = Annotated[ProductAccess, Depends(require_product_member)]
