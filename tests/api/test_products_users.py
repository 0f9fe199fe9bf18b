"""Owners manage products and users; product admins manage their members."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.core.settings import Settings
from backend.users.models import Role
from tests.factories import PASSWORD, auth, make_product, make_user

pytestmark = pytest.mark.integration


def test_owner_creates_product_and_user(
    client: TestClient, session: Session, settings: Settings
) -> None:
    owner = auth(make_user(session, owner=True), settings)
    resp = client.post(
        "/api/v1/products", json={"slug": "Acme-Shop", "name": "Acme"}, headers=owner
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["slug"] == "acme-shop"
    dup = client.post("/api/v1/products", json={"slug": "acme-shop", "name": "x"}, headers=owner)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
    bad = client.post("/api/v1/products", json={"slug": "no spaces!", "name": "x"}, headers=owner)
    assert bad.status_code == 422
    resp = client.post(
        "/api/v1/users", json={"email": "new@corp.local", "password": PASSWORD}, headers=owner
    )
    assert resp.status_code == 201 and "password" not in resp.text
    short = client.post(
        "/api/v1/users", json={"email": "x@corp.local", "password": "123"}, headers=owner
    )
    assert short.status_code == 422 and "password" in short.json()["error"]["message"]
    bad_email = client.post(
        "/api/v1/users", json={"email": "nope", "password": PASSWORD}, headers=owner
    )
    assert bad_email.status_code == 422


def test_non_owner_cannot_manage_users_or_products(
    client: TestClient, session: Session, settings: Settings
) -> None:
    product = make_product(session)
    admin = auth(make_user(session, product=product, role=Role.admin), settings)
    assert client.get("/api/v1/users", headers=admin).status_code == 403
    assert (
        client.post("/api/v1/products", json={"slug": "zz", "name": "z"}, headers=admin).status_code
        == 403
    )
    assert (
        client.patch("/api/v1/users/1", json={"is_active": False}, headers=admin).status_code == 403
    )


def test_products_listing_is_scoped(
    client: TestClient, session: Session, settings: Settings
) -> None:
    mine, other = make_product(session), make_product(session)
    agent = auth(make_user(session, product=mine, role=Role.agent), settings)
    slugs = [p["slug"] for p in client.get("/api/v1/products", headers=agent).json()]
    assert slugs == [mine.slug]
    owner = auth(make_user(session, owner=True), settings)
    all_slugs = {p["slug"] for p in client.get("/api/v1/products", headers=owner).json()}
    assert {mine.slug, other.slug} <= all_slugs


def test_admin_manages_members(client: TestClient, session: Session, settings: Settings) -> None:
    product = make_product(session)
    admin_user = make_user(session, product=product, role=Role.admin)
    admin = auth(admin_user, settings)
    newcomer = make_user(session)
    base = f"/api/v1/admin/products/{product.id}/members"
    resp = client.put(base, json={"email": newcomer.email, "role": "agent"}, headers=admin)
    assert resp.status_code == 200
    assert {(m["email"], m["role"]) for m in resp.json()} == {
        (admin_user.email, "admin"),
        (newcomer.email, "agent"),
    }
    missing = client.put(base, json={"email": "ghost@example.com", "role": "agent"}, headers=admin)
    assert missing.status_code == 404
    bad_role = client.put(base, json={"email": newcomer.email, "role": "king"}, headers=admin)
    assert bad_role.status_code == 422
    last = client.delete(f"{base}/{admin_user.id}", headers=admin)
    assert last.status_code == 422 and last.json()["error"]["code"] == "last_admin"
    assert client.delete(f"{base}/{newcomer.id}", headers=admin).status_code == 204
    assert client.delete(f"{base}/{newcomer.id}", headers=admin).status_code == 404


def test_owner_disables_user_but_not_self(
    client: TestClient, session: Session, settings: Settings
) -> None:
    owner_user = make_user(session, owner=True)
    owner = auth(owner_user, settings)
    victim = make_user(session)
    victim_headers = auth(victim, settings)
    resp = client.patch(f"/api/v1/users/{victim.id}", json={"is_active": False}, headers=owner)
    assert resp.status_code == 200 and resp.json()["is_active"] is False
    revoked = client.get("/api/v1/auth/me", headers=victim_headers)
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "token_revoked"
    self_lock = client.patch(
        f"/api/v1/users/{owner_user.id}", json={"is_active": False}, headers=owner
    )
    assert self_lock.status_code == 422
