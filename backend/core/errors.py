"""One exception hierarchy, mapped once to ``{"error": {"code", "message"}}`` for every error."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class DeskpilotError(Exception):
    """Base of every expected error; subclasses set the HTTP status and a stable code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(DeskpilotError):
    status_code = 404
    code = "not_found"


class Conflict(DeskpilotError):
    status_code = 409
    code = "conflict"


class Unauthorized(DeskpilotError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DeskpilotError):
    status_code = 403
    code = "forbidden"


class InvalidInput(DeskpilotError):
    status_code = 422
    code = "invalid_input"


class PayloadTooLarge(DeskpilotError):
    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(DeskpilotError):
    status_code = 503
    code = "service_unavailable"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "service_unavailable",
}


class InvalidField(BaseModel):
    """One invalid part of a request (a 422's ``details``)."""

    loc: list[str | int] = Field(description='Where: e.g. ``["body", "text"]``.')
    msg: str


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine-readable ``code`` and a message for people."""

    code: str = Field(description="Stable code, e.g. ``not_found``, ``rate_limited``.")
    message: str
    details: list[InvalidField] | None = Field(
        default=None, description="422 ``invalid_input`` only: the first invalid fields."
    )


class ErrorResponse(BaseModel):
    """The one error body of the API: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


_STATUS_TEXT = {
    400: "Bad request.",
    401: "Not authenticated: no credentials, or invalid or expired ones.",
    403: "Authenticated, but not allowed here.",
    404: "Not found (or not visible to the caller).",
    409: "Conflicts with the current state (duplicate, already closed, ...).",
    413: "Payload too large.",
    415: "Unsupported media type.",
    422: "Invalid input: the message names the first invalid fields.",
    429: "Rate limited: retry after the ``Retry-After`` header's seconds.",
    503: "Not ready yet (a model or service is still warming up).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` declaring each status with the one error body (routers, routes)."""
    return {
        status: {"model": ErrorResponse, "description": _STATUS_TEXT.get(status, "Error.")}
        for status in statuses
    }


# What a request gets when the database refuses one of its values (sqlalchemy's DataError).
UNSTORABLE = (
    "invalid_input",
    "a value cannot be stored: a number out of range, or text with a NUL character",
)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The single JSON error shape of the API."""
    return {"error": {"code": code, "message": message, **extra}}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the one error format."""

    @app.exception_handler(DeskpilotError)
    async def _deskpilot(_: Request, exc: DeskpilotError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()[:20]
        ]
        return JSONResponse(
            error_body("invalid_input", _validation_message(exc), details=details),
            status_code=422,
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the request carried (a NUL character in text, a number
        # out of range): bad input, not a server fault. The statement is not echoed back.
        log.info("database refused a value: %s", exc.orig)
        return JSONResponse(error_body(*UNSTORABLE), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)
