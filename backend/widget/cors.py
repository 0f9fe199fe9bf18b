"""CORS for the widget API (``/api/v1/widget/...``), driven by the site keys' allowed origins.

A preflight cannot carry the site key or the visitor token, so it is answered for an origin that
ANY active site key allows (that set is cached for ``cache_s`` seconds); the per-key check happens
in the route dependencies, which answer 403 ``origin_not_allowed``. Actual responses get
``Access-Control-Allow-Origin: <origin>`` so the widget can read errors too (no cookies are used:
no ``Allow-Credentials``).

A pure ASGI middleware (not ``BaseHTTPMiddleware``): it only touches the response start, so SSE
streams pass through unbuffered.
"""

from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import error_body
from backend.widget import service
from backend.widget.auth import SITE_KEY_HEADER, VISITOR_HEADER, origin_allowed

WIDGET_PREFIX = "/api/v1/widget/"
ALLOW_METHODS = "GET, POST, PUT, OPTIONS"
EXPOSE_HEADERS = "Retry-After"  # the widget reads it on a 429
ALLOW_HEADERS = f"Content-Type, {VISITOR_HEADER}, {SITE_KEY_HEADER}, Last-Event-ID"
MAX_AGE_S = 600


def load_active_origins(engine: Engine) -> set[str]:
    """Every origin an active site key allows, read with a short-lived session."""
    with Session(engine) as session:
        return service.active_origins(session=session)


class WidgetCORSMiddleware:
    """Answers widget preflights and adds CORS headers to widget responses."""

    def __init__(self, app: ASGIApp, *, prefix: str = WIDGET_PREFIX, cache_s: float = 2.0) -> None:
        self.app = app
        self.prefix = prefix
        self.cache_s = cache_s
        self._origins: set[str] = set()
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:  # not a browser's cross-origin request
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(scope, origin, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, origin: str, send: Send) -> None:
        if origin_allowed(await self.allowed_origins(scope), origin):
            headers = [
                ("access-control-allow-origin", origin),
                ("access-control-allow-methods", ALLOW_METHODS),
                ("access-control-allow-headers", ALLOW_HEADERS),
                ("access-control-max-age", str(MAX_AGE_S)),
                ("vary", "Origin"),
            ]
            await _respond(send, 204, headers, b"")
            return
        body = json.dumps(
            error_body("origin_not_allowed", f"origin {origin} is not allowed by any site key")
        ).encode()
        await _respond(send, 403, [("content-type", "application/json")], body)

    async def allowed_origins(self, scope: Scope) -> set[str]:
        """The cached set of origins allowed by any active key (reloaded after ``cache_s``)."""
        if time.monotonic() - self._loaded_at < self.cache_s:
            return self._origins
        async with self._lock:
            if time.monotonic() - self._loaded_at >= self.cache_s:
                engine: Engine = scope["app"].state.engine
                self._origins = await run_in_threadpool(load_active_origins, engine)
                self._loaded_at = time.monotonic()
        return self._origins


async def _respond(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
