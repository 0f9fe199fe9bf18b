"""First-run setup: the demo product and the first admin (an owner who administers the demo)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from backend.core.security import generate_password
from backend.core.settings import Settings
from backend.products import service as products
from backend.products.models import ProductCreate
from backend.users import service as users
from backend.users.models import Role, UserCreate

DEMO_PRODUCT_NAME = "Lumen Bank (demo)"


@dataclass(frozen=True)
class BootstrapResult:
    product_id: int
    admin_email: str
    generated_password: str | None  # set only when this call created the admin with a new password


def ensure_demo_and_admin(*, session: Session, settings: Settings) -> BootstrapResult:
    """Create the demo product and the admin if missing; idempotent, never alters a user."""
    product = products.get_product_by_slug(session=session, slug=settings.demo_product)
    if product is None:
        product = products.create_product(
            session=session, data=ProductCreate(slug=settings.demo_product, name=DEMO_PRODUCT_NAME)
        )
    generated: str | None = None
    admin = users.get_user_by_email(session=session, email=settings.admin_email)
    if admin is None:
        if settings.admin_password is not None:
            password = settings.admin_password.get_secret_value()
        else:
            password = generated = generate_password()
        admin = users.create_user(
            session=session,
            data=UserCreate(
                email=settings.admin_email, full_name="Admin", password=password, is_owner=True
            ),
        )
    if users.role_in(session=session, user=admin, product_id=product.id or 0) is None:
        products.set_membership(
            session=session, user=admin, product_id=product.id or 0, role=Role.admin
        )
    return BootstrapResult(product.id or 0, admin.email, generated)
