"""Errors of the OpenAI-compatible endpoint in OpenAI's shape:
``{"error": {"message", "type", "param", "code"}}``.

OpenAI clients (the official SDKs among them) read ``type``, ``param`` and ``code``; the rest of
the API keeps deskpilot's ``{"error": {"code", "message"}}``. Routes of the ``/v1`` router use
:class:`OpenAIRoute`, which turns every error raised while handling the request (bad input, the
API-key check, a closed conversation, anything unexpected) into this shape; errors after a stream
has started are sent in the stream (``backend.openai_api.wire``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from backend.core.errors import DeskpilotError

log = logging.getLogger(__name__)

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
PERMISSION = "permission_error"
RATE_LIMIT = "rate_limit_error"
SERVER = "server_error"
# pydantic error types -> OpenAI's codes for a bad parameter
_MISSING = {"missing"}
_WRONG_TYPE = ("_type", "_parsing")
# deskpilot codes that are about one request parameter
_CODE_PARAMS = {"message_too_long": "messages", "invalid_input": "messages"}


class OpenAIErrorDetail(BaseModel):
    """One error, as OpenAI's API reports it."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """The error response of ``/v1/chat/completions`` (and of a failed stream's last event)."""

    error: OpenAIErrorDetail


def error_body(
    message: str, *, type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def type_for(status: int) -> str:
    """OpenAI's error type for an HTTP status."""
    if status == 401:
        return AUTHENTICATION
    if status == 403:
        return PERMISSION
    if status == 429:
        return RATE_LIMIT
    return SERVER if status >= 500 else INVALID_REQUEST


def _param(loc: Sequence[int | str]) -> str | None:
    """``("body", "messages", 0, "role")`` -> ``messages[0].role``."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path", "header"):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _validation_code(kind: str) -> str:
    if kind in _MISSING:
        return "missing_required_parameter"
    if kind == "json_invalid":
        return "invalid_json"
    if kind.endswith(_WRONG_TYPE):
        return "invalid_type"
    return "invalid_value"


def validation_error(exc: RequestValidationError) -> JSONResponse:
    """400 ``invalid_request_error`` naming the first bad parameter (as OpenAI does)."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    param = _param(first.get("loc", ()))
    msg = str(first.get("msg", "invalid request"))
    message = f"{param}: {msg}" if param else msg
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    code = _validation_code(str(first.get("type", "")))
    return JSONResponse(
        error_body(message, type=INVALID_REQUEST, param=param, code=code), status_code=400
    )


def _from_status(status: int, message: str, code: str, headers: Any = None) -> JSONResponse:
    if status == 429:
        code = "rate_limit_exceeded"
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    body = error_body(message, type=type_for(status), param=_CODE_PARAMS.get(code), code=code)
    return JSONResponse(body, status_code=status, headers=headers)


def error_response(exc: Exception) -> JSONResponse:
    """The OpenAI-shaped response for an error raised while handling a request."""
    if isinstance(exc, RequestValidationError):
        return validation_error(exc)
    if isinstance(exc, DeskpilotError):
        return _from_status(exc.status_code, exc.message, exc.code)
    if isinstance(exc, HTTPException):
        phrase = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        return _from_status(exc.status_code, str(exc.detail), phrase, exc.headers)
    log.exception("unhandled error on the OpenAI-compatible endpoint", exc_info=exc)
    return JSONResponse(
        error_body("internal server error", type=SERVER, code="internal_error"), status_code=500
    )


class OpenAIRoute(APIRoute):
    """A route whose errors (validation, dependencies, the handler) are OpenAI-shaped."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, with every exception turned into :func:`error_response`."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return error_response(exc)

        return route


RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorBody, "description": description}
    for status, description in (
        (400, "Bad input (`invalid_request_error`; `param` names the parameter)"),
        (401, "Missing, unknown or revoked API key (`authentication_error`, `invalid_api_key`)"),
        (409, "The `user`'s logged conversation was closed meanwhile (`conversation_closed`)"),
        (413, "The question is too long (`invalid_request_error`, `message_too_long`)"),
        ("default", "Unexpected failure (`server_error`)"),
    )
}
