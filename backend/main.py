"""The FastAPI application factory. Heavy objects are built in the lifespan and held on app.state.

Run with ``deskpilot serve`` (or ``uvicorn backend.main:create_app --factory``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from backend.answers.llm import LLMRuntime
from backend.api.router import build_api_router
from backend.conversations.bus import make_bus
from backend.core.db import make_engine
from backend.core.errors import install_error_handlers
from backend.core.metrics import Metrics, install_metrics
from backend.core.models_registry import import_all_models
from backend.core.settings import Settings, get_settings
from backend.intents.runtime import IntentRuntime
from backend.knowledge.runtime import KnowledgeRuntime
from backend.openai_api import routes as openai_routes
from backend.system.readiness import broker_check, database_check
from backend.widget.cors import WidgetCORSMiddleware
from backend.widget.static_routes import router as widget_static_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    import_all_models()
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
        app.state.knowledge = knowledge
        intents = IntentRuntime(settings, engine, knowledge.embedder)
        await run_in_threadpool(intents.preload)
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
        app.state.events = make_bus(settings)  # wakes SSE streams (Redis across processes)
        await app.state.events.start()
        try:
            yield
        finally:
            await app.state.events.stop()
            await llm.stop()
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
    app.include_router(build_api_router())
    app.include_router(openai_routes.router)
    app.include_router(widget_static_router)  # /widget.js, /demo

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return metrics.render()

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
