"""Widget settings on site keys: the admin PATCH, `deskpilot sitekey update`, and the public
GET /api/v1/widget/config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.settings import Settings, get_settings
from backend.users.models import Role
from backend.widget import service
from backend.widget.models import DEFAULT_COLOR, DEFAULT_GREETING
from tests.factories import auth, make_product, make_user
from tests.widget.conftest import MakeSiteKey
from tests.widget.helpers import SHOP

pytestmark = pytest.mark.integration
CONFIG = "/api/v1/widget/config"
runner = CliRunner()


def _base(product_id: int | None) -> str:
    return f"/api/v1/admin/products/{product_id}/site-keys"


def test_patch_site_key(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    headers = auth(make_user(session, product=product, role=Role.admin), settings)
    url = f"{_base(product.id)}/{key.id}"
    before = widget.get(_base(product.id), headers=headers).json()[0]
    assert before["theme"] == {
        "color": DEFAULT_COLOR,
        "position": "right",
        "title": None,
        "greeting": DEFAULT_GREETING,
        "avatar_url": None,
    }
    assert before["language"] == "auto"
    assert (before["rate_limit_per_minute"], before["ip_rate_limit_per_minute"]) == (20, 60)

    body = {
        "name": "shop site",
        "allowed_origins": ["https://Shop.example.com", "http://localhost:3000/"],
        "theme": {"color": "#FF8800", "position": "left", "title": "  Help  ", "greeting": "Yo"},
        "language": "zh-CN",
        "rate_limit_per_minute": 5,
        "ip_rate_limit_per_minute": 0,
    }
    resp = widget.patch(url, json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["name"] == "shop site" and got["language"] == "zh-CN"
    assert got["allowed_origins"] == ["http://localhost:3000", SHOP]
    assert got["theme"] == {
        "color": "#ff8800",
        "position": "left",
        "title": "Help",
        "greeting": "Yo",
        "avatar_url": None,
    }
    assert (got["rate_limit_per_minute"], got["ip_rate_limit_per_minute"]) == (5, 0)
    # Theme fields merge: only the avatar changes; a null title goes back to the product's name.
    got = widget.patch(
        url, json={"theme": {"avatar_url": "https://cdn.example.com/a.png"}}, headers=headers
    ).json()
    assert got["theme"]["avatar_url"] == "https://cdn.example.com/a.png"
    assert got["theme"]["color"] == "#ff8800" and got["theme"]["title"] == "Help"
    got = widget.patch(url, json={"theme": {"title": None}}, headers=headers).json()
    assert got["theme"]["title"] is None and got["name"] == "shop site"
    session.refresh(key)
    assert key.theme["position"] == "left" and key.language == "zh-CN"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"theme": {"color": "red"}}, "theme.color: Value error, 'red' is not a colour"),
        ({"theme": {"color": "#12345"}}, "is not a colour such as #1f6feb"),
        ({"theme": {"color": None}}, "color cannot be null"),
        ({"theme": {"position": "top"}}, "theme.position: Input should be 'right' or 'left'"),
        ({"theme": {"title": "x" * 81}}, "theme.title: String should have at most 80"),
        ({"theme": {"greeting": "x" * 501}}, "theme.greeting: String should have at most 500"),
        ({"theme": {"avatar_url": "javascript:alert(1)"}}, "is not an http(s) URL"),
        ({"language": "fr"}, "language: Input should be 'auto', 'en' or 'zh-CN'"),
        ({"rate_limit_per_minute": -1}, "rate_limit_per_minute: Input should be greater"),
        ({"ip_rate_limit_per_minute": "many"}, "ip_rate_limit_per_minute: Input should be"),
        ({"allowed_origins": ["shop.example.com"]}, "is not an origin"),
        ({"allowed_origins": []}, "allowed_origins: List should have at least 1"),
        ({"name": None}, "name cannot be null"),
        ({"name": ""}, "name: String should have at least 1"),
    ],
)
def test_patch_refuses_bad_values(
    widget: TestClient,
    session: Session,
    settings: Settings,
    make_site_key: MakeSiteKey,
    body: dict[str, Any],
    expected: str,
) -> None:
    product = make_product(session)
    key = make_site_key(product)
    headers = auth(make_user(session, product=product, role=Role.admin), settings)
    resp = widget.patch(f"{_base(product.id)}/{key.id}", json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_input" and expected in error["message"], error


def test_patch_needs_the_keys_product_admin(
    widget: TestClient, session: Session, settings: Settings, make_site_key: MakeSiteKey
) -> None:
    product, other = make_product(session), make_product(session)
    key = make_site_key(product)
    body = {"language": "en"}
    agent = auth(make_user(session, product=product, role=Role.agent), settings)
    resp = widget.patch(f"{_base(product.id)}/{key.id}", json=body, headers=agent)
    assert resp.status_code == 403
    other_admin = auth(make_user(session, product=other, role=Role.admin), settings)
    resp = widget.patch(f"{_base(other.id)}/{key.id}", json=body, headers=other_admin)
    assert resp.status_code == 404  # another product's key looks missing
    session.refresh(key)
    assert key.language == "auto"


def test_config(widget: TestClient, session: Session, make_site_key: MakeSiteKey) -> None:
    product = make_product(session)
    key = make_site_key(product)
    resp = widget.get(CONFIG, params={"site_key": key.public_id}, headers={"Origin": SHOP})
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "public, max-age=60"
    assert resp.headers["access-control-allow-origin"] == SHOP
    assert resp.json() == {
        "site_key": key.public_id,
        "product_name": product.name,
        "language": "auto",
        "theme": {
            "color": DEFAULT_COLOR,
            "position": "right",
            "title": product.name,  # unset: the product's name
            "greeting": DEFAULT_GREETING,
            "avatar_url": None,
        },
    }
    # A key made before themes existed ({} in the column) gets the same defaults.
    key.theme = {}
    session.add(key)
    session.commit()
    assert widget.get(CONFIG, params={"site_key": key.public_id}).json()["theme"]["color"] == (
        DEFAULT_COLOR
    )
    key.theme = {"color": "#000000", "title": "Ask us", "position": "left"}
    key.language = "en"
    session.add(key)
    session.commit()
    got = widget.get(CONFIG, params={"site_key": key.public_id}).json()
    assert got["language"] == "en" and got["theme"]["title"] == "Ask us"
    assert got["theme"]["position"] == "left" and got["theme"]["color"] == "#000000"


def test_config_refusals(widget: TestClient, session: Session, make_site_key: MakeSiteKey) -> None:
    product = make_product(session)
    key = make_site_key(product)
    evil = {"Origin": "https://evil.example.org"}
    resp = widget.get(CONFIG, params={"site_key": key.public_id}, headers=evil)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "origin_not_allowed"
    assert "cache-control" not in resp.headers
    resp = widget.get(CONFIG, params={"site_key": "pk_unknown"}, headers={"Origin": SHOP})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "site_key_invalid"
    service.revoke_site_key(session=session, site_key=key)
    resp = widget.get(CONFIG, params={"site_key": key.public_id}, headers={"Origin": SHOP})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "site_key_invalid"
    assert widget.get(CONFIG).status_code == 422


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DESKPILOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DESKPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["product", "create", "shop", "--name", "Shop"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def test_sitekey_update_cli(cli_env: Path) -> None:
    created = runner.invoke(app, ["sitekey", "create", "-p", "shop", "--origin", SHOP])
    public_id = created.output.split("site key ")[1].split()[0]
    result = runner.invoke(
        app,
        [
            "sitekey", "update", public_id, "--color", "#00AA00", "--title", "Help desk",
            "--greeting", "Hello!", "--position", "left", "--language", "en",
            "--origin", "https://a.example.com", "--origin", "https://b.example.com",
            "--rate-limit", "7", "--ip-rate-limit", "0",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert f"updated {public_id}: colour #00aa00, left, title 'Help desk', language en" in out
    assert "limits 7/min per visitor, 0/min per IP" in out
    assert "origins https://a.example.com, https://b.example.com" in out
    # Only what is given changes; an empty title goes back to the product's name.
    result = runner.invoke(app, ["sitekey", "update", public_id, "--title", ""])
    assert result.exit_code == 0 and "colour #00aa00, left, title 'Shop'" in result.output

    bad = runner.invoke(app, ["sitekey", "update", public_id, "--color", "green"])
    assert bad.exit_code == 1 and "--color: 'green' is not a colour" in bad.output
    bad = runner.invoke(app, ["sitekey", "update", public_id, "--origin", "nope"])
    assert bad.exit_code == 1 and "--origin" in bad.output
    bad = runner.invoke(app, ["sitekey", "update", public_id, "--rate-limit", "-3"])
    assert bad.exit_code == 1 and "--rate-limit" in bad.output
    bad = runner.invoke(app, ["sitekey", "update", public_id, "--language", "fr"])
    assert bad.exit_code == 1 and "--language" in bad.output
    bad = runner.invoke(app, ["sitekey", "update", public_id])
    assert bad.exit_code == 2 and "nothing to change" in bad.output
    bad = runner.invoke(app, ["sitekey", "update", "pk_nope", "--color", "#000000"])
    assert bad.exit_code == 1 and "no site key pk_nope" in bad.output
