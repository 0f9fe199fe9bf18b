"""Layering that the import contracts cannot see: the product-access check knows every admin
route's product when the app is built, and the API's route modules load no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts
from sqlmodel import Session

from backend import main
from backend.api.deps import AdminAccess, require_product_admin, require_product_member
from backend.core.access import ProductResolvers
from backend.core.errors import NotFound
from backend.core.settings import Settings, load_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "var")


def _paths(app: FastAPI) -> list[str]:
    return [str(route.path) for route in iter_route_contexts(app.routes)]


def _router_keyed_by(param: str) -> APIRouter:
    router = APIRouter()

    @router.get(f"/things/{{{param}}}")
    def get_thing(access: AdminAccess) -> dict[str, int]:
        return {"product": access.product.id or 0}

    return router


def test_admin_route_keyed_by_an_unknown_id_fails_create_app(
    monkeypatch: pytest.MonkeyPatch, app_settings: Settings
) -> None:
    monkeypatch.setattr(main, "ADMIN_ROUTERS", [*main.ADMIN_ROUTERS, _router_keyed_by("thing_id")])
    with pytest.raises(RuntimeError, match=r"/api/v1/admin/things/\{thing_id\}"):
        main.create_app(app_settings)


def test_admin_route_keyed_by_a_known_id_builds(
    monkeypatch: pytest.MonkeyPatch, app_settings: Settings
) -> None:
    monkeypatch.setattr(main, "ADMIN_ROUTERS", [*main.ADMIN_ROUTERS, _router_keyed_by("job_id")])
    app = main.create_app(app_settings)
    assert "/api/v1/admin/things/{job_id}" in _paths(app)


def test_every_product_scoped_route_of_the_app_names_its_product(app_settings: Settings) -> None:
    app = main.create_app(app_settings)  # raises if one does not
    guarded = [p for p in _paths(app) if p.startswith("/api/v1/admin/")]
    assert len(guarded) > 30  # the check ran over the real admin routes, not an empty list


def test_route_dependencies_are_found_through_nested_dependencies() -> None:
    app = FastAPI()

    def nested(access: AdminAccess) -> int:
        return access.product.id or 0

    @app.get("/x/{other_id}")
    def handler(value: int = Depends(nested)) -> int:
        return value

    resolvers = ProductResolvers({})
    with pytest.raises(RuntimeError, match=r"/x/\{other_id\}"):
        resolvers.check_routes(app.routes, guards=(require_product_admin, require_product_member))


def test_resolvers_find_the_product_from_the_path() -> None:
    seen: list[int] = []

    def product_of_job(*, session: Session, job_id: int) -> int:
        seen.append(job_id)
        return 7

    resolvers = ProductResolvers({"job_id": product_of_job})
    session = Session()  # never queried: the resolver is a stand-in
    assert resolvers.product_id(session, {"product_id": "3", "job_id": "9"}) == 3
    assert resolvers.product_id(session, {"job_id": "9"}) == 7 and seen == [9]
    with pytest.raises(NotFound, match="job_id 'abc' not found"):
        resolvers.product_id(session, {"job_id": "abc"})


def _route_modules() -> list[str]:
    modules = []
    for path in sorted((ROOT / "backend").rglob("*routes.py")):
        modules.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return modules


def test_route_modules_import_no_torch() -> None:
    modules = _route_modules()
    assert "backend.intents.routes" in modules and "backend.accounts.user_routes" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
