"""Every /api/v1/admin route, every role: only admins of that product (and owners) get through."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.core.settings import Settings
from backend.main import create_app
from backend.users import service as users
from backend.users.models import Role, UserUpdate
from tests.factories import auth, make_job, make_product, make_user

pytestmark = pytest.mark.integration


def admin_routes() -> dict[tuple[str, str], set[int]]:
    # The OpenAPI schema lists every mounted route with its full path, however routers nest,
    # and the statuses each one documents.
    paths = create_app().openapi()["paths"]
    found = {
        (method.upper(), path): {int(status) for status in op["responses"]}
        for path, ops in paths.items()
        if path.startswith("/api/v1/admin")
        for method, op in ops.items()
    }
    assert len(found) >= 8, "admin routes went missing"
    return found


DOCUMENTED = admin_routes()
ROUTES = sorted(DOCUMENTED)


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    params: dict[str, int | str]


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    a, b = make_product(session), make_product(session)
    people = {
        "owner": make_user(session, owner=True),
        "admin": make_user(session, product=a, role=Role.admin),
        "agent": make_user(session, product=a, role=Role.agent),
        "other_admin": make_user(session, product=b, role=Role.admin),
        "disabled_admin": make_user(session, product=a, role=Role.admin),
    }
    headers = {name: auth(user, settings) for name, user in people.items()}
    users.update_user(
        session=session, user=people["disabled_admin"], data=UserUpdate(is_active=False)
    )
    headers["anonymous"] = {}
    job = make_job(session, a)
    params = {
        "product_id": a.id or 0,
        "job_id": job.id or 0,
        "user_id": people["agent"].id or 0,
        "document_id": 999999,
        "intent_id": 999999,
        "example_id": 999999,
        "version": "no-such-version",
        "api_key_id": 999999,
        "site_key_id": 999999,
    }
    return World(headers, params)


def _url(path: str, params: dict[str, int | str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), path)


# One right status per caller: a disabled user's token was revoked when they were disabled.
EXPECTED = {"anonymous": 401, "agent": 403, "other_admin": 403, "disabled_admin": 401}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_admin_route_access(client: TestClient, world: World, method: str, path: str) -> None:
    url = _url(path, world.params)
    for who, status in EXPECTED.items():
        resp = client.request(method, url, headers=world.headers[who], json={})
        assert resp.status_code == status, f"{who} {method} {url}: {resp.status_code} {resp.text}"
        assert resp.json()["error"]["code"]
    for who in ("admin", "owner"):
        # Past the access check: the route's own answer (an empty body is often a 422), never a
        # server error, and always one of the statuses the route documents.
        resp = client.request(method, url, headers=world.headers[who], json={})
        assert resp.status_code not in (401, 403), f"{who} {method} {url}: {resp.text}"
        assert resp.status_code < 500, f"{who} {method} {url}: {resp.status_code} {resp.text}"
        assert resp.status_code in DOCUMENTED[(method, path)], f"{who} {method} {url}: {resp.text}"


def test_unknown_product_is_404_for_admin(client: TestClient, world: World) -> None:
    resp = client.get("/api/v1/admin/products/999999", headers=world.headers["owner"])
    assert resp.status_code == 404
    resp = client.get("/api/v1/admin/jobs/999999", headers=world.headers["admin"])
    assert resp.status_code == 404
