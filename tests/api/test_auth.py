"""Login, tokens, disabled users and the one error format."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.core.security import create_access_token
from backend.core.settings import Settings
from backend.users import service as users
from backend.users.models import Role, UserUpdate
from tests.factories import PASSWORD, auth, make_product, make_user

pytestmark = pytest.mark.integration


def _assert_error(resp, status: int, code: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code


def test_login_and_me(client: TestClient, session: Session) -> None:
    product = make_product(session)
    user = make_user(session, product=product, role=Role.agent, email="Agent@Example.com")
    resp = client.post(
        "/api/v1/auth/login", json={"email": "agent@example.com", "password": PASSWORD}
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    assert resp.json()["token_type"] == "bearer" and resp.json()["expires_at"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["email"] == user.email == "agent@example.com"
    assert me["memberships"] == [
        {"product_id": product.id, "product_slug": product.slug, "role": "agent"}
    ]
    assert "hashed_password" not in me


def test_oauth2_form_login(client: TestClient, session: Session) -> None:
    user = make_user(session)
    resp = client.post("/api/v1/auth/token", data={"username": user.email, "password": PASSWORD})
    assert resp.status_code == 200 and resp.json()["access_token"]


@pytest.mark.parametrize("email", ["nobody@example.com", "KNOWN"])
def test_wrong_credentials(client: TestClient, session: Session, email: str) -> None:
    user = make_user(session)
    resp = client.post(
        "/api/v1/auth/login",
        json={"email": user.email if email == "KNOWN" else email, "password": "wrong-password"},
    )
    _assert_error(resp, 401, "invalid_credentials")
    assert resp.json()["error"]["message"] == "wrong email or password"


def test_no_token_expired_forged(client: TestClient, session: Session, settings: Settings) -> None:
    user = make_user(session)
    _assert_error(client.get("/api/v1/auth/me"), 401, "unauthorized")
    expired, _ = create_access_token(
        user_id=user.id or 0,
        token_version=0,
        secret=settings.secret_key.get_secret_value(),
        minutes=-1,
    )
    _assert_error(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"}),
        401,
        "token_expired",
    )
    forged, _ = create_access_token(
        user_id=user.id or 0, token_version=0, secret="f" * 40, minutes=5
    )
    _assert_error(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "invalid_token",
    )
    _assert_error(client.get("/api/v1/auth/me", headers={"Authorization": "Bearer abc.def"}), 401)


def test_disabled_user_loses_access_at_once(
    client: TestClient, session: Session, settings: Settings
) -> None:
    user = make_user(session)
    headers = auth(user, settings)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    users.update_user(session=session, user=user, data=UserUpdate(is_active=False))
    # disabling bumps the token version: the old token is revoked (401), whatever it names
    _assert_error(client.get("/api/v1/auth/me", headers=headers), 401, "token_revoked")
    login = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    _assert_error(login, 403, "user_disabled")


def test_password_change_revokes_tokens(
    client: TestClient, session: Session, settings: Settings
) -> None:
    user = make_user(session)
    headers = auth(user, settings)
    users.update_user(session=session, user=user, data=UserUpdate(password="a-new-password"))
    _assert_error(client.get("/api/v1/auth/me", headers=headers), 401, "token_revoked")
    ok = client.post("/api/v1/auth/login", json={"email": user.email, "password": "a-new-password"})
    assert ok.status_code == 200


def test_validation_and_404_use_error_format(client: TestClient) -> None:
    _assert_error(client.post("/api/v1/auth/login", json={"email": ""}), 422, "invalid_input")
    _assert_error(client.get("/api/v1/nope"), 404, "not_found")
    _assert_error(client.delete("/api/v1/health"), 405)
