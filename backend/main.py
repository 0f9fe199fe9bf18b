"""The FastAPI application factory. Heavy objects are built in the lifespan and held on app.state.

Every router is mounted here, in ``mount_routes``: ``/api/v1`` (admin routes behind the one
product-access check), ``/v1/chat/completions``, ``/widget.js``, ``/demo`` and ``/metrics``.
Run with ``deskpilot serve`` (or ``uvicorn backend.main:create_app --factory``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from backend.accounts import product_routes as products_routes
from backend.accounts import user_routes as users_routes
from backend.answers import language
from backend.answers import routes as answers_routes
from backend.answers.llm import LLMRuntime
from backend.api.deps import require_product_admin, require_product_member
from backend.conversations import agent_routes
from backend.conversations import service as conversations
from backend.conversations.bus import make_bus
from backend.core.access import ProductResolvers
from backend.core.db import make_engine
from backend.core.errors import install_error_handlers
from backend.core.metrics import Metrics, install_metrics
from backend.core.settings import Settings, get_settings
from backend.intents import routes as intents_routes
from backend.intents.runtime import IntentRuntime
from backend.jobs import routes as jobs_routes
from backend.jobs import service as jobs
from backend.knowledge import routes as knowledge_routes
from backend.knowledge.runtime import KnowledgeRuntime
from backend.openai_api import admin_routes as api_key_routes
from backend.openai_api import routes as openai_routes
from backend.system import routes as system_routes
from backend.system.readiness import broker_check, database_check
from backend.widget import feedback_routes
from backend.widget import routes as widget_routes
from backend.widget import static_routes as widget_static_routes
from backend.widget.cors import WidgetCORSMiddleware

# Every router listed here is mounted under /api/v1/admin behind require_product_admin.
ADMIN_ROUTERS = [
    products_routes.admin_router,
    jobs_routes.admin_router,
    knowledge_routes.admin_router,
    intents_routes.admin_router,
    api_key_routes.admin_router,
    widget_routes.admin_router,
    answers_routes.admin_router,
]

# How a product-scoped path parameter other than product_id leads to its product: each domain
# owns the lookup of its ids. An admin route keyed by an id missing here fails create_app.
PRODUCT_RESOLVERS = ProductResolvers(
    {
        "job_id": jobs.product_of_job,
        "conversation_id": conversations.product_of_conversation,
    }
)


def mount_routes(app: FastAPI) -> None:
    """Mount every router of the app, then check each product-scoped route can find its product."""
    api = APIRouter(prefix="/api/v1")
    api.include_router(system_routes.router)
    api.include_router(users_routes.auth_router)
    api.include_router(users_routes.users_router)
    api.include_router(products_routes.router)
    admin = APIRouter(prefix="/admin", dependencies=[Depends(require_product_admin)])
    for router in ADMIN_ROUTERS:
        admin.include_router(router)
    api.include_router(admin)
    api.include_router(agent_routes.router)
    api.include_router(widget_routes.router)
    api.include_router(answers_routes.widget_router)
    api.include_router(feedback_routes.widget_router)
    app.include_router(api)
    app.include_router(openai_routes.router)  # /v1/chat/completions
    app.include_router(widget_static_routes.router)  # /widget.js, /demo
    app.state.product_resolvers = PRODUCT_RESOLVERS
    PRODUCT_RESOLVERS.check_routes(
        app.routes, guards=(require_product_admin, require_product_member)
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(level=settings.log_level)
        engine = make_engine(
            settings.sqlalchemy_url, connect_timeout_s=settings.db_connect_timeout_s
        )
        app.state.engine = engine
        knowledge = KnowledgeRuntime(settings, engine, metrics)
        await run_in_threadpool(knowledge.warm_up)
        await run_in_threadpool(language.warm_up)  # else the first message pays ~0.5 s
        app.state.knowledge = knowledge
        intents = IntentRuntime(settings, engine, knowledge.embedder)
        await run_in_threadpool(intents.preload)
        intents.start()  # loads models activated later in the background, never in a request
        app.state.intents = intents
        llm = LLMRuntime(settings)
        await llm.start()
        app.state.llm = llm
        app.state.readiness_checks = {
            "database": database_check(engine),
            "broker": broker_check(),
            "embedder": knowledge.embedder_status,
            "index": knowledge.status,
            "intent_model": intents.status,
            "generator": llm.status,
        }
        app.state.readiness_details = {"intent": intents.describe}  # what each product serves
        app.state.events = make_bus(settings)  # wakes SSE streams (Redis across processes)
        await app.state.events.start()
        try:
            yield
        finally:
            await app.state.events.stop()
            await llm.stop()
            await run_in_threadpool(intents.stop)
            engine.dispose()

    app = FastAPI(
        title="deskpilot",
        version="0.1.0",
        description="Self-hostable AI customer-service desk.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    install_metrics(app, metrics)
    app.add_middleware(WidgetCORSMiddleware)
    mount_routes(app)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return metrics.render()

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
