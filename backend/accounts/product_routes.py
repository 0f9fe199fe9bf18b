"""Products: listing and creation, and the product admin's settings and members."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.api.deps import AdminAccess, CurrentUser, OwnerUser, SessionDep
from backend.core.errors import NotFound, error_responses
from backend.core.openapi import Id, ProductId
from backend.products import service
from backend.products.models import Product, ProductCreate, ProductPublic, ProductUpdate
from backend.users import service as users
from backend.users.models import MemberPublic, MemberSet

router = APIRouter(prefix="/products", tags=["products"], responses=error_responses(401, 403))
admin_router = APIRouter(
    prefix="/products/{product_id}",
    tags=["admin: products"],
    responses=error_responses(400, 401, 403, 404, 422),
)


@router.get("", response_model=list[ProductPublic])
def list_products(user: CurrentUser, session: SessionDep) -> list[Product]:
    """The products the caller belongs to (every product for an owner)."""
    return service.list_products_for(session=session, user=user)


@router.post(
    "", response_model=ProductPublic, status_code=201, responses=error_responses(400, 409, 422)
)
def create_product(body: ProductCreate, owner: OwnerUser, session: SessionDep) -> Product:
    """Create a product (owner only)."""
    return service.create_product(session=session, data=body)


@admin_router.get("", response_model=ProductPublic)
def get_product(product_id: ProductId, access: AdminAccess) -> Product:
    """The product's details."""
    return access.product


@admin_router.patch("", response_model=ProductPublic)
def update_product(
    product_id: ProductId, body: ProductUpdate, access: AdminAccess, session: SessionDep
) -> Product:
    """Rename the product."""
    return service.update_product(session=session, product=access.product, data=body)


@admin_router.get("/members", response_model=list[MemberPublic])
def list_members(
    product_id: ProductId, access: AdminAccess, session: SessionDep
) -> list[MemberPublic]:
    """The product's users and their roles."""
    return users.list_members(session=session, product_id=access.product.id or 0)


@admin_router.put("/members", response_model=list[MemberPublic])
def set_member(
    product_id: ProductId, body: MemberSet, access: AdminAccess, session: SessionDep
) -> list[MemberPublic]:
    """Add an existing user to the product, or change their role (``admin`` or ``agent``)."""
    user = users.get_user_by_email(session=session, email=str(body.email))
    if user is None:
        raise NotFound(f"no user with email {body.email}; an owner creates users first")
    service.set_membership(
        session=session, user=user, product_id=access.product.id or 0, role=body.role
    )
    return users.list_members(session=session, product_id=access.product.id or 0)


@admin_router.delete("/members/{user_id}", status_code=204)
def remove_member(
    product_id: ProductId, user_id: Id, access: AdminAccess, session: SessionDep
) -> Response:
    """Remove a user from the product (never its last admin)."""
    users.remove_membership(session=session, user_id=user_id, product_id=access.product.id or 0)
    return Response(status_code=204)
