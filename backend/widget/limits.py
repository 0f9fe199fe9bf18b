"""Rate limits of the widget API, per visitor and per client IP, set on each site key.

Moving windows of one minute (the ``limits`` library): a visitor may send the key's
``rate_limit_per_minute`` messages (and as many ratings) a minute; one client IP may start
conversations and send messages ``ip_rate_limit_per_minute`` times a minute through one key.
A limit of 0 is off. Counters live in Redis when ``DESKPILOT_REDIS_URL`` is set (shared by every
API process), else in this process's memory (the embedded default: one API process). If Redis
fails, requests are let through (and logged): a broken limiter must not take the chat down.

An exceeded limit is 429 ``rate_limited`` with ``Retry-After`` (seconds).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from fastapi import HTTPException, Request
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from backend.widget.auth import Visitor
from backend.widget.models import SiteKey

log = logging.getLogger(__name__)
STATE_NAME = "widget_limiter"  # the app.state attribute holding the app's limiter
KEY_PREFIX = "deskpilot:limits"
REDIS_TIMEOUT_S = 1.0


class WidgetLimiter:
    """Moving-window counters in memory or Redis; :meth:`hit` consumes one request."""

    def __init__(self, redis_url: str = "", *, key_prefix: str = KEY_PREFIX) -> None:
        self.storage: Storage
        if redis_url:
            self.storage = RedisStorage(
                redis_url,
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
        else:
            self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)

    def hit(self, per_minute: int, *identifiers: str) -> int | None:
        """Count one request against ``per_minute`` for ``identifiers``.

        Returns None when it is allowed, else the seconds until the next one would be (≥ 1).
        """
        if per_minute <= 0:
            return None
        item = RateLimitItemPerMinute(per_minute)
        try:
            if self.limiter.hit(item, *identifiers):
                return None
            reset_at, _ = self.limiter.get_window_stats(item, *identifiers)
        except StorageError as exc:
            log.warning("rate limiter storage failed (%s); letting the request through", exc)
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def reset(self) -> None:
        """Forget every counter (of this key prefix, in Redis)."""
        self.storage.reset()


def get_limiter(app: Any) -> WidgetLimiter:
    """The app's limiter, made on first use from its settings (tests may set their own)."""
    limiter: WidgetLimiter | None = getattr(app.state, STATE_NAME, None)
    if limiter is None:
        limiter = WidgetLimiter(app.state.settings.redis_url)
        setattr(app.state, STATE_NAME, limiter)
    return limiter


def client_ip(request: Request) -> str:
    """The client's address as the server sees it (run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` behind a proxy, so that this is the visitor, not the proxy)."""
    return request.client.host if request.client else "unknown"


def _refuse(what: str, retry_after: int) -> HTTPException:
    return HTTPException(
        status_code=429,
        detail=f"too many {what}; try again in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def _check(request: Request, what: str, checks: list[tuple[int, tuple[str, ...]]]) -> None:
    limiter = get_limiter(request.app)
    for per_minute, identifiers in checks:
        retry_after = limiter.hit(per_minute, *identifiers)
        if retry_after is not None:
            raise _refuse(what, retry_after)


def enforce_start_limits(request: Request, site_key: SiteKey) -> None:
    """Starting a conversation: the client IP's limit of the key (429 when exceeded)."""
    ip = ("ip", site_key.public_id, client_ip(request))
    _check(request, "new conversations", [(site_key.ip_rate_limit_per_minute, ip)])


def enforce_message_limits(request: Request, visitor: Visitor) -> None:
    """Posting a message: the visitor's limit, then the client IP's (429 when exceeded)."""
    key = visitor.site_key_public_id
    _check(
        request,
        "messages",
        [
            (visitor.rate_limit_per_minute, ("visitor", key, visitor.visitor_id)),
            (visitor.ip_rate_limit_per_minute, ("ip", key, client_ip(request))),
        ],
    )


def enforce_feedback_limits(request: Request, visitor: Visitor) -> None:
    """Rating an answer: the visitor's limit, counted apart from their messages."""
    identifiers = ("feedback", visitor.site_key_public_id, visitor.visitor_id)
    _check(request, "ratings", [(visitor.rate_limit_per_minute, identifiers)])
