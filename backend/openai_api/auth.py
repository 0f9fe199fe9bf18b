"""The API-key check of the OpenAI-compatible endpoint: ``Authorization: Bearer dp-...``.

A missing or bad key raises ``Unauthorized`` with code ``invalid_api_key`` (OpenAI's own); the
``/v1`` routes turn it into OpenAI's error shape (``authentication_error``, see
``backend.openai_api.errors``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.api.deps import SessionDep
from backend.core.errors import Unauthorized
from backend.openai_api import service
from backend.openai_api.models import ApiKey

INVALID_API_KEY = "invalid_api_key"


def bearer_key(request: Request) -> str | None:
    """The bearer credential of the request, if it sent one."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def get_api_client(request: Request, session: SessionDep) -> ApiKey:
    """The active API key behind the request; 401 ``invalid_api_key`` when missing or not valid."""
    key = bearer_key(request)
    if key is None:
        raise Unauthorized(
            "missing API key: send 'Authorization: Bearer <key>'", code=INVALID_API_KEY
        )
    api_key = service.authenticate(session=session, key=key)
    if api_key is None:
        # One message for unknown, malformed and revoked keys: nothing to probe.
        raise Unauthorized("invalid API key: unknown or revoked", code=INVALID_API_KEY)
    return api_key


ApiKeyDep = Annotated[ApiKey, Depends(get_api_client)]
