"""Visitor tokens: the anonymous widget visitor's identity, bound to one site key.

A visitor token is a JWT (HS256, ``DESKPILOT_SECRET_KEY``) with ``typ="visitor"``, the visitor id
``vid``, the site key's public id ``sk`` and its product ``pid``; it lives
``DESKPILOT_VISITOR_TOKEN_HOURS``. The widget sends it in ``X-Deskpilot-Visitor``. Every request
re-checks the key (revoking it stops its tokens at once) and the request's ``Origin``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from sqlmodel import Session

from backend.api.deps import SessionDep, SettingsDep
from backend.core.errors import Forbidden, Unauthorized
from backend.core.security import ALGORITHM
from backend.core.settings import Settings
from backend.widget import service
from backend.widget.models import (
    DEFAULT_IP_RATE_LIMIT,
    DEFAULT_RATE_LIMIT,
    SiteKey,
    normalize_origin,
)

VISITOR_HEADER = "X-Deskpilot-Visitor"
SITE_KEY_HEADER = "X-Deskpilot-Site-Key"
TOKEN_TYPE = "visitor"  # noqa: S105 (a claim value, not a secret)


@dataclass(frozen=True)
class Visitor:
    """The widget visitor behind a request: which product, through which key, from where."""

    product_id: int
    site_key_id: int
    site_key_public_id: str
    visitor_id: str
    origin: str | None
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT  # the key's limits (backend.widget.limits)
    ip_rate_limit_per_minute: int = DEFAULT_IP_RATE_LIMIT


@dataclass(frozen=True)
class VisitorClaims:
    visitor_id: str
    site_key_public_id: str
    product_id: int
    expires_at: datetime


def new_visitor_id() -> str:
    """A random visitor id (22 url-safe characters)."""
    return secrets.token_urlsafe(16)


def issue_visitor_token(
    *, settings: Settings, site_key: SiteKey, visitor_id: str | None = None
) -> tuple[str, str, datetime]:
    """Sign a visitor token for ``site_key``; returns (token, visitor id, expires at).

    Pass ``visitor_id`` to renew a returning visitor's token under the same identity."""
    visitor_id = visitor_id or new_visitor_id()
    now = datetime.now(UTC)
    expires_at = now + timedelta(hours=settings.visitor_token_hours)
    payload: dict[str, Any] = {
        "typ": TOKEN_TYPE,
        "vid": visitor_id,
        "sk": site_key.public_id,
        "pid": site_key.product_id,
        "iat": now,
        "exp": expires_at,
    }
    token = jwt.encode(payload, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return token, visitor_id, expires_at


def decode_visitor_token(token: str, *, secret: str) -> VisitorClaims:
    """Verify a visitor token; 401 ``visitor_token_expired`` or ``invalid_visitor_token``."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "vid", "sk", "pid"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(
            "visitor token expired; start a new conversation", code="visitor_token_expired"
        ) from None
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid visitor token", code="invalid_visitor_token") from None
    vid, sk, pid = payload.get("vid"), payload.get("sk"), payload.get("pid")
    if (
        payload.get("typ") != TOKEN_TYPE
        or not isinstance(vid, str)
        or not isinstance(sk, str)
        or not isinstance(pid, int)
    ):
        raise Unauthorized("invalid visitor token", code="invalid_visitor_token")
    return VisitorClaims(vid, sk, pid, datetime.fromtimestamp(payload["exp"], UTC))


def origin_allowed(allowed: list[str] | set[str], origin: str) -> bool:
    """True when ``origin`` (an ``Origin`` header value) is in ``allowed`` or ``*`` is."""
    if "*" in allowed:
        return True
    try:
        return normalize_origin(origin) in allowed
    except ValueError:  # "null" (sandboxed frames, file://) or garbage
        return False


def check_origin(site_key: SiteKey, origin: str | None) -> None:
    """403 ``origin_not_allowed`` when an ``Origin`` is sent and the key does not allow it.

    No ``Origin`` (server to server, curl) passes: origins only stop other sites' browsers."""
    if origin is not None and not origin_allowed(site_key.allowed_origins, origin):
        raise Forbidden(
            f"origin {origin} is not allowed for this site key", code="origin_not_allowed"
        )


def visitor_from_token(
    request: Request, session: Session, settings: Settings, token: str | None
) -> Visitor:
    """The visitor behind ``token``: 401 when missing/invalid/expired, 403 when its key is revoked
    or the request's origin is not allowed."""
    if not token:
        raise Unauthorized(
            f"send the visitor token in the {VISITOR_HEADER} header",
            code="invalid_visitor_token",
        )
    claims = decode_visitor_token(token, secret=settings.secret_key.get_secret_value())
    key = service.find_site_key(session=session, public_id=claims.site_key_public_id)
    if key is None or not key.is_active:
        raise Forbidden("this site key was revoked", code="site_key_revoked")
    if key.product_id != claims.product_id:
        raise Unauthorized("invalid visitor token", code="invalid_visitor_token")
    origin = request.headers.get("origin")
    check_origin(key, origin)
    return Visitor(
        product_id=key.product_id,
        site_key_id=key.id or 0,
        site_key_public_id=key.public_id,
        visitor_id=claims.visitor_id,
        origin=origin,
        rate_limit_per_minute=key.rate_limit_per_minute,
        ip_rate_limit_per_minute=key.ip_rate_limit_per_minute,
    )


def get_visitor(request: Request, session: SessionDep, settings: SettingsDep) -> Visitor:
    """The visitor behind the ``X-Deskpilot-Visitor`` header (see :func:`visitor_from_token`)."""
    return visitor_from_token(request, session, settings, request.headers.get(VISITOR_HEADER))


VisitorDep = Annotated[Visitor, Depends(get_visitor)]
