"""Product operations (keyword-only; the only place that commits product changes)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.core.db import commit_or_conflict
from backend.core.errors import Conflict, NotFound
from backend.products.models import Product, ProductCreate, ProductUpdate
from backend.users.models import Membership, MembershipPublic, Role, User


def create_product(*, session: Session, data: ProductCreate) -> Product:
    """Create a product; its slug must be unused."""
    if get_product_by_slug(session=session, slug=data.slug) is not None:
        raise Conflict(f"product '{data.slug}' already exists")
    product = Product(slug=data.slug, name=data.name)
    session.add(product)
    commit_or_conflict(session, f"product '{data.slug}' already exists")
    session.refresh(product)
    return product


def get_product(*, session: Session, product_id: int) -> Product:
    """The product with this id, or NotFound."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product


def get_product_by_slug(*, session: Session, slug: str) -> Product | None:
    """The product with this slug, if any."""
    return session.exec(select(Product).where(Product.slug == slug.lower())).first()


def require_product_by_slug(*, session: Session, slug: str) -> Product:
    """The product with this slug, or NotFound naming it."""
    product = get_product_by_slug(session=session, slug=slug)
    if product is None:
        raise NotFound(f"product '{slug}' not found")
    return product


def list_products_for(*, session: Session, user: User) -> list[Product]:
    """Every product for an owner; the user's own products otherwise."""
    query = select(Product).order_by(col(Product.id))
    if not user.is_owner:
        query = query.join(Membership, col(Membership.product_id) == col(Product.id)).where(
            Membership.user_id == user.id
        )
    return list(session.exec(query).all())


def update_product(*, session: Session, product: Product, data: ProductUpdate) -> Product:
    """Apply the fields set in ``data`` (null keeps the value)."""
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(product, key, value)
    session.add(product)
    session.commit()
    session.refresh(product)
    return product


def memberships_of(*, session: Session, user: User) -> list[MembershipPublic]:
    """The user's products and roles."""
    rows = session.exec(
        select(Membership, Product)
        .join(Product, col(Product.id) == col(Membership.product_id))
        .where(Membership.user_id == user.id)
        .order_by(col(Product.id))
    ).all()
    return [
        MembershipPublic(product_id=p.id or 0, product_slug=p.slug, role=m.role) for m, p in rows
    ]


def set_membership(*, session: Session, user: User, product_id: int, role: Role) -> Membership:
    """Give ``user`` a role in a product (adding or changing the membership)."""
    if session.get(Product, product_id) is None:
        raise NotFound(f"product {product_id} not found")
    membership = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.product_id == product_id)
    ).first()
    if membership is None:
        assert user.id is not None
        membership = Membership(user_id=user.id, product_id=product_id, role=role)
    membership.role = role
    session.add(membership)
    session.commit()
    session.refresh(membership)
    return membership
