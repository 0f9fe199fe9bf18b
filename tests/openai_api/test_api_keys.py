"""API keys: the service, the admin routes, and the bearer check of the OpenAI-style endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.api.deps import get_session
from backend.core.db import utcnow
from backend.core.errors import InvalidInput, NotFound, install_error_handlers
from backend.core.settings import Settings
from backend.openai_api import service
from backend.openai_api.auth import ApiKeyDep
from backend.openai_api.models import KEY_PREFIX, ApiKey, ApiKeyCreate
from backend.users.models import Role
from tests.factories import auth, make_product, make_user

pytestmark = pytest.mark.integration


def test_create_stores_only_a_hash(session: Session) -> None:
    product = make_product(session)
    created = service.create_api_key(
        session=session, product_id=product.id or 0, data=ApiKeyCreate(name=" ci bot ")
    )
    assert created.key.startswith(KEY_PREFIX) and len(created.key) == len(KEY_PREFIX) + 43
    assert created.prefix == created.key[:10] and created.name == "ci bot"
    stored = session.exec(select(ApiKey).where(ApiKey.id == created.id)).one()
    assert stored.key_hash == service.hash_key(created.key) and created.key not in stored.key_hash
    other = service.create_api_key(
        session=session, product_id=product.id or 0, data=ApiKeyCreate(name="two")
    )
    assert other.key != created.key
    listed = service.list_api_keys(session=session, product_id=product.id or 0)
    assert [k.id for k in listed] == [other.id, created.id]
    with pytest.raises(InvalidInput):
        service.create_api_key(
            session=session, product_id=product.id or 0, data=ApiKeyCreate(name="  ")
        )


def test_authenticate_revoke_and_touch(session: Session) -> None:
    product = make_product(session)
    created = service.create_api_key(
        session=session, product_id=product.id or 0, data=ApiKeyCreate(name="app")
    )
    found = service.authenticate(session=session, key=created.key)
    assert found is not None and found.id == created.id and found.last_used_at is not None
    first_use = found.last_used_at
    again = service.authenticate(session=session, key=created.key)
    assert again is not None and again.last_used_at == first_use  # at most once a minute
    found.last_used_at = utcnow() - timedelta(minutes=2)
    session.add(found)
    session.commit()
    later = service.authenticate(session=session, key=created.key)
    assert later is not None and later.last_used_at is not None
    assert later.last_used_at > first_use
    for wrong in ("", "dp-nope", created.key[3:], created.key + "x", "dp-" + "a" * 500):
        assert service.authenticate(session=session, key=wrong) is None

    key = service.get_api_key(session=session, api_key_id=created.id)
    revoked = service.revoke_api_key(session=session, api_key=key)
    assert revoked.revoked_at is not None
    when = revoked.revoked_at
    assert service.revoke_api_key(session=session, api_key=key).revoked_at == when  # idempotent
    assert service.authenticate(session=session, key=created.key) is None
    with pytest.raises(NotFound):
        service.get_api_key(
            session=session, api_key_id=created.id, product_id=(product.id or 0) + 1
        )


def test_admin_routes(client: TestClient, session: Session, settings: Settings) -> None:
    product, other = make_product(session), make_product(session)
    admin = auth(make_user(session, product=product, role=Role.admin), settings)
    base = f"/api/v1/admin/products/{product.id}/api-keys"
    resp = client.post(base, headers=admin, json={"name": "zendesk bridge"})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["key"].startswith(KEY_PREFIX) and created["prefix"] == created["key"][:10]
    assert created["revoked_at"] is None and created["product_id"] == product.id
    assert client.post(base, headers=admin, json={"name": ""}).status_code == 422

    listed = client.get(base, headers=admin).json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]

    theirs = service.create_api_key(
        session=session, product_id=other.id or 0, data=ApiKeyCreate(name="theirs")
    )
    resp = client.post(f"{base}/{theirs.id}/revoke", headers=admin)
    assert resp.status_code == 404
    assert service.get_api_key(session=session, api_key_id=theirs.id).revoked_at is None
    assert client.post(f"{base}/999999/revoke", headers=admin).status_code == 404

    resp = client.post(f"{base}/{created['id']}/revoke", headers=admin)
    assert resp.status_code == 200 and resp.json()["revoked_at"]
    again = client.post(f"{base}/{created['id']}/revoke", headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == resp.json()["revoked_at"]
    assert service.authenticate(session=session, key=created["key"]) is None


@pytest.fixture
def api_client(session: Session) -> Iterator[TestClient]:
    """A tiny app with one route behind ApiKeyDep, sharing the test's session."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/whoami")
    def whoami(api_key: ApiKeyDep) -> dict[str, int]:
        return {"id": api_key.id or 0, "product_id": api_key.product_id}

    def _session() -> Iterator[Session]:
        yield session

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as test_client:
        yield test_client


def test_bearer_dependency(api_client: TestClient, session: Session) -> None:
    product = make_product(session)
    created = service.create_api_key(
        session=session, product_id=product.id or 0, data=ApiKeyCreate(name="app")
    )
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        resp = api_client.get("/whoami", headers=headers)
        assert resp.status_code == 401
        assert resp.json()["error"] == {
            "code": "invalid_api_key",
            "message": "missing API key: send 'Authorization: Bearer <key>'",
        }
        assert resp.headers["www-authenticate"] == "Bearer"
    resp = api_client.get("/whoami", headers={"Authorization": "Bearer dp-unknown"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_api_key"

    good = {"Authorization": f"Bearer {created.key}"}
    resp = api_client.get("/whoami", headers=good)
    assert resp.status_code == 200 and resp.json() == {"id": created.id, "product_id": product.id}
    lower = api_client.get("/whoami", headers={"authorization": f"bearer {created.key}"})
    assert lower.status_code == 200

    key = service.get_api_key(session=session, api_key_id=created.id)
    service.revoke_api_key(session=session, api_key=key)
    resp = api_client.get("/whoami", headers=good)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_api_key"
