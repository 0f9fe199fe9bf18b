"""Mounts every domain's routes under /api/v1; admin routes all pass the product-admin check."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from backend.answers import routes as answers
from backend.api.deps import require_product_admin
from backend.conversations import agent_routes
from backend.feedback import routes as feedback
from backend.intents import routes as intents
from backend.jobs import routes as jobs
from backend.knowledge import routes as knowledge
from backend.openai_api import admin_routes as api_keys
from backend.products import routes as products
from backend.system import routes as system
from backend.users import routes as users
from backend.widget import routes as widget

# Every router listed here is mounted under /api/v1/admin behind require_product_admin.
ADMIN_ROUTERS = [
    products.admin_router,
    jobs.admin_router,
    knowledge.admin_router,
    intents.admin_router,
    api_keys.admin_router,
    widget.admin_router,
    answers.admin_router,
]


def build_api_router() -> APIRouter:
    """The /api/v1 router with every domain mounted."""
    api = APIRouter(prefix="/api/v1")
    api.include_router(system.router)
    api.include_router(users.auth_router)
    api.include_router(users.users_router)
    api.include_router(products.router)
    admin = APIRouter(prefix="/admin", dependencies=[Depends(require_product_admin)])
    for router in ADMIN_ROUTERS:
        admin.include_router(router)
    api.include_router(admin)
    api.include_router(agent_routes.router)
    api.include_router(widget.router)
    api.include_router(answers.widget_router)
    api.include_router(feedback.widget_router)
    return api
