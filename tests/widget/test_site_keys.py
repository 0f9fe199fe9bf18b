"""Site keys: the admin API and `deskpilot sitekey`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.settings import Settings, get_settings
from backend.users.models import Role
from tests.factories import auth, make_product, make_user

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_create_list_revoke(client: TestClient, session: Session, settings: Settings) -> None:
    product, other = make_product(session), make_product(session)
    headers = auth(make_user(session, product=product, role=Role.admin), settings)
    base = f"/api/v1/admin/products/{product.id}/site-keys"
    body = {
        "name": "shop",
        "allowed_origins": ["https://Shop.example.com/", "http://localhost:3000"],
    }
    resp = client.post(base, json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    key = resp.json()
    assert key["public_id"].startswith("pk_") and len(key["public_id"]) == 27
    assert key["allowed_origins"] == ["http://localhost:3000", "https://shop.example.com"]
    assert key["is_active"] and key["revoked_at"] is None and key["product_id"] == product.id
    second = client.post(base, json={"allowed_origins": ["*"]}, headers=headers).json()
    assert second["name"] == "website" and second["public_id"] != key["public_id"]
    listed = client.get(base, headers=headers).json()
    assert [k["id"] for k in listed] == [key["id"], second["id"]]

    for bad in ([], ["shop.example.com"], ["https://shop.example.com/path"], ["ftp://x.org"]):
        resp = client.post(base, json={"allowed_origins": bad}, headers=headers)
        assert resp.status_code == 422, bad

    revoked = client.post(f"{base}/{key['id']}/revoke", headers=headers)
    assert revoked.status_code == 200
    assert not revoked.json()["is_active"] and revoked.json()["revoked_at"]
    again = client.post(f"{base}/{key['id']}/revoke", headers=headers).json()
    assert again["revoked_at"] == revoked.json()["revoked_at"]
    # A key of another product is not found through this product, even for an owner.
    owner = auth(make_user(session, owner=True), settings)
    other_url = f"/api/v1/admin/products/{other.id}/site-keys/{second['id']}/revoke"
    assert client.post(other_url, headers=owner).status_code == 404
    assert client.get(base, headers=headers).json()[1]["is_active"]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DESKPILOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DESKPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["product", "create", "shop"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def test_sitekey_cli(cli_env: Path) -> None:
    result = runner.invoke(
        app,
        [
            "sitekey", "create", "--product", "shop", "--name", "main site",
            "--origin", "https://Shop.example.com", "--origin", "http://localhost:3000",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created site key pk_" in result.output
    public_id = result.output.split("site key ")[1].split()[0]
    assert "https://shop.example.com" in result.output

    listing = runner.invoke(app, ["sitekey", "list", "-p", "shop"])
    assert listing.exit_code == 0 and public_id in listing.output and "main" in listing.output

    result = runner.invoke(app, ["sitekey", "revoke", public_id])
    assert result.exit_code == 0 and f"revoked {public_id}" in result.output
    result = runner.invoke(app, ["sitekey", "revoke", public_id])
    assert result.exit_code == 0 and "already revoked" in result.output
    assert "revoked" in runner.invoke(app, ["sitekey", "list", "-p", "shop"]).output

    bad = runner.invoke(app, ["sitekey", "create", "-p", "shop", "--origin", "shop.example.com"])
    assert bad.exit_code == 1 and "--origin" in bad.output and "origin" in bad.output
    bad = runner.invoke(app, ["sitekey", "create", "-p", "nope", "--origin", "https://a.org"])
    assert bad.exit_code == 1 and "product 'nope' not found" in bad.output
    bad = runner.invoke(app, ["sitekey", "create", "-p", "shop"])
    assert bad.exit_code == 2 and "--origin" in bad.output
    bad = runner.invoke(app, ["sitekey", "revoke", "pk_nope"])
    assert bad.exit_code == 1 and "no site key pk_nope" in bad.output
    helped = runner.invoke(app, ["sitekey", "--help"])
    assert helped.exit_code == 0 and "create" in helped.output and "revoke" in helped.output
