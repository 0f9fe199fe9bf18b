"""Admin routes for the product's API keys (the OpenAI-compatible endpoint's credentials)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import AdminAccess, SessionDep
from backend.core.errors import error_responses
from backend.core.openapi import Id, ProductId
from backend.openai_api import service
from backend.openai_api.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic

admin_router = APIRouter(
    prefix="/products/{product_id}/api-keys",
    tags=["admin: API keys"],
    responses=error_responses(400, 401, 403, 404, 422),
)


@admin_router.post("", response_model=ApiKeyCreated, status_code=201)
def create_api_key(
    product_id: ProductId, body: ApiKeyCreate, access: AdminAccess, session: SessionDep
) -> ApiKeyCreated:
    """Create an API key. The response holds the key itself, shown this once: store it now."""
    return service.create_api_key(session=session, product_id=access.product.id or 0, data=body)


@admin_router.get("", response_model=list[ApiKeyPublic])
def list_api_keys(product_id: ProductId, access: AdminAccess, session: SessionDep) -> list[ApiKey]:
    """The product's API keys (name, prefix, last use, revocation), newest first; never the key."""
    return service.list_api_keys(session=session, product_id=access.product.id or 0)


@admin_router.post("/{api_key_id}/revoke", response_model=ApiKeyPublic)
def revoke_api_key(
    product_id: ProductId, api_key_id: Id, access: AdminAccess, session: SessionDep
) -> ApiKey:
    """Revoke a key: requests with it are refused at once. Revoking twice changes nothing."""
    api_key = service.get_api_key(
        session=session, api_key_id=api_key_id, product_id=access.product.id or 0
    )
    return service.revoke_api_key(session=session, api_key=api_key)
