"""Rate limits per visitor and per client IP (in memory, and on the real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from limits.storage import MemoryStorage, RedisStorage
from sqlmodel import Session, func, select

from backend.conversations.models import Message
from backend.core.settings import Settings
from backend.main import create_app
from backend.widget.limits import STATE_NAME, WidgetLimiter, get_limiter
from backend.widget.models import SiteKey
from ml.testing.fake_generator import FakeGenerator
from tests.answers.test_pipeline import FAQ, PASSAGE, FakeKnowledge, predictor
from tests.factories import make_product
from tests.widget.conftest import MakeSiteKey
from tests.widget.helpers import start, visitor_headers

pytestmark = pytest.mark.integration
REDIS_URL = "redis://127.0.0.1:6379/0"


def _limited(key: SiteKey, session: Session, *, visitor: int, ip: int) -> SiteKey:
    key.rate_limit_per_minute, key.ip_rate_limit_per_minute = visitor, ip
    session.add(key)
    session.commit()
    return key


def _fake_models(client: TestClient) -> None:
    state = client.app.state  # type: ignore[attr-defined]
    state.knowledge = FakeKnowledge([PASSAGE, FAQ])
    state.intents.predict = predictor("transfer_fees")
    state.llm.client, state.llm.healthy = FakeGenerator(), True


def _visitor(client: TestClient, key: SiteKey) -> tuple[str, dict[str, str]]:
    body = start(client, key).json()
    url = f"/api/v1/widget/conversations/{body['conversation']['id']}/messages?stream=false"
    return url, visitor_headers(body["visitor_token"])


def _assert_429(resp: Any, what: str) -> None:
    assert resp.status_code == 429, resp.text
    retry_after = int(resp.headers["retry-after"])
    assert 1 <= retry_after <= 60
    error = resp.json()["error"]
    assert error == {
        "code": "rate_limited",
        "message": f"too many {what}; try again in {retry_after} s",
    }


def test_limiter_counts_per_identifier() -> None:
    limiter = WidgetLimiter()
    assert isinstance(limiter.storage, MemoryStorage)
    assert [limiter.hit(2, "visitor", "a") for _ in range(2)] == [None, None]
    retry_after = limiter.hit(2, "visitor", "a")
    assert retry_after is not None and 1 <= retry_after <= 60
    assert limiter.hit(2, "visitor", "b") is None  # another visitor has their own window
    assert all(limiter.hit(0, "visitor", "a") is None for _ in range(100))  # 0: no limit


def test_messages_per_visitor(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey
) -> None:
    _fake_models(widget)
    key = _limited(make_site_key(make_product(session)), session, visitor=2, ip=100)
    url, headers = _visitor(widget, key)
    for _ in range(2):
        assert widget.post(url, json={"text": "fees?"}, headers=headers).status_code == 200
    count = session.exec(select(func.count()).select_from(Message)).one()
    resp = widget.post(url, json={"text": "fees?"}, headers=headers)
    _assert_429(resp, "messages")
    assert resp.headers["access-control-allow-origin"]  # the widget can read it
    assert "Retry-After" in resp.headers["access-control-expose-headers"]
    assert session.exec(select(func.count()).select_from(Message)).one() == count  # not stored
    # A second visitor is unaffected; ratings have a count of their own.
    other_url, other_headers = _visitor(widget, key)
    assert widget.post(other_url, json={"text": "fees?"}, headers=other_headers).status_code == 200


def test_messages_and_starts_per_ip(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey
) -> None:
    _fake_models(widget)
    product = make_product(session)
    key = _limited(make_site_key(product), session, visitor=10, ip=4)
    url_a, headers_a = _visitor(widget, key)  # 1 (starts count too)
    for _ in range(2):  # 2, 3
        assert widget.post(url_a, json={"text": "fees?"}, headers=headers_a).status_code == 200
    url_b, headers_b = _visitor(widget, key)  # 4
    _assert_429(widget.post(url_b, json={"text": "fees?"}, headers=headers_b), "messages")
    _assert_429(start(widget, key), "new conversations")
    # Another key's visitors from the same address have their own budget.
    other = _limited(make_site_key(product), session, visitor=10, ip=1)
    assert start(widget, other).status_code == 201
    _assert_429(start(widget, other), "new conversations")


def test_feedback_per_visitor(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey
) -> None:
    _fake_models(widget)
    key = _limited(make_site_key(make_product(session)), session, visitor=1, ip=0)
    url, headers = _visitor(widget, key)
    answer = widget.post(url, json={"text": "fees?"}, headers=headers).json()["message"]
    feedback = f"/api/v1/widget/messages/{answer['id']}/feedback"
    assert widget.post(feedback, json={"rating": "up"}, headers=headers).status_code == 200
    _assert_429(widget.post(feedback, json={"rating": "down"}, headers=headers), "ratings")
    _assert_429(widget.post(url, json={"text": "fees?"}, headers=headers), "messages")


@pytest.fixture
def redis_limiter() -> Iterator[WidgetLimiter]:
    """A Redis-backed limiter under a key prefix of its own, removed afterwards."""
    prefix = f"deskpilot-test-{uuid.uuid4().hex}"
    limiter = WidgetLimiter(REDIS_URL, key_prefix=prefix)
    yield limiter
    limiter.reset()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert list(client.scan_iter(f"{prefix}*")) == []
    finally:
        client.close()


def test_redis_storage(redis_limiter: WidgetLimiter) -> None:
    assert isinstance(redis_limiter.storage, RedisStorage)
    assert [redis_limiter.hit(3, "visitor", "k", "a") for _ in range(3)] == [None] * 3
    retry_after = redis_limiter.hit(3, "visitor", "k", "a")
    assert retry_after is not None and 1 <= retry_after <= 60
    assert redis_limiter.hit(3, "visitor", "k", "b") is None
    # Another API process (another limiter on the same Redis) sees the same counts.
    prefix = redis_limiter.storage.key_prefix  # type: ignore[attr-defined]
    twin = WidgetLimiter(REDIS_URL, key_prefix=prefix)
    assert twin.hit(3, "visitor", "k", "a") is not None
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert list(client.scan_iter(f"{prefix}*"))
    finally:
        client.close()


def test_redis_through_the_api(
    widget: TestClient, session: Session, make_site_key: MakeSiteKey, redis_limiter: WidgetLimiter
) -> None:
    setattr(widget.app.state, STATE_NAME, redis_limiter)  # type: ignore[attr-defined]
    key = _limited(make_site_key(make_product(session)), session, visitor=5, ip=2)
    assert [start(widget, key).status_code for _ in range(2)] == [201, 201]
    _assert_429(start(widget, key), "new conversations")


def test_redis_down_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    limiter = WidgetLimiter("redis://127.0.0.1:1/0")  # nothing listens there
    assert all(limiter.hit(1, "visitor", "a") is None for _ in range(3))
    assert "rate limiter storage failed" in caplog.text


def test_app_limiter_follows_the_settings(settings: Settings) -> None:
    assert isinstance(get_limiter(create_app(settings)).storage, MemoryStorage)
    with_redis = settings.model_copy(update={"redis_url": REDIS_URL})
    assert isinstance(get_limiter(create_app(with_redis)).storage, RedisStorage)
