"""/widget.js and /demo (the built bundle, and files in tmp_path), and the demo site key `deskpilot up`
makes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.core.settings import Settings, get_settings, load_settings
from backend.widget import service, static_routes
from backend.widget.models import SiteKeyUpdate
from backend.widget.static_routes import ROOT
from tests.factories import make_product
from tests.widget.helpers import start

pytestmark = pytest.mark.integration
SCRIPT = "(()=>{console.log('deskpilot widget');})();\n" * 50
TEMPLATE = (
    "<!doctype html><title>Lumen Bank</title>"
    '<script src="{{WIDGET_SRC}}" data-site-key="{{SITE_KEY}}" async></script>'
)


@pytest.fixture
def settings(database_urls: dict[str, str], db_backend: str, tmp_path: Path) -> Settings:
    """The shared settings with a demo product slug of this test's own."""
    get_settings.cache_clear()
    return load_settings(
        database_url=database_urls[db_backend],
        data_dir=tmp_path / "var",
        demo_product=f"demo-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """widget.js and the demo page of an installation in tmp_path (not written yet): the real
    ones are part of the checkout, and this test removes and rewrites them."""
    js, page = tmp_path / "static" / "widget.js", tmp_path / "demo" / "index.html"
    js.parent.mkdir()
    page.parent.mkdir()
    monkeypatch.setattr(static_routes, "WIDGET_JS", js)
    monkeypatch.setattr(static_routes, "DEMO_HTML", page)
    return js, page


def test_the_built_widget_is_served(client: TestClient) -> None:
    resp = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert resp.status_code == 200
    assert resp.content == (ROOT / "backend" / "static" / "widget.js").read_bytes()


def test_widget_js(client: TestClient, files: tuple[Path, Path]) -> None:
    js, _ = files
    missing = client.get("/widget.js")
    assert missing.status_code == 503
    assert missing.headers["content-type"] == "application/javascript; charset=utf-8"
    assert missing.text.startswith("/*") and "not built" in missing.text
    assert missing.text.rstrip().endswith("*/")

    js.write_text(SCRIPT)
    plain = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.text == SCRIPT
    assert plain.headers["content-type"] == "application/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')

    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.text == SCRIPT  # decoded
    assert int(zipped.headers["content-length"]) < len(SCRIPT) / 5
    assert zipped.headers["etag"] != etag and "Accept-Encoding" in zipped.headers["vary"]
    again = client.get("/widget.js", headers={"Accept-Encoding": "identity", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    head = client.head("/widget.js", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(SCRIPT))

    # A new build is served at once, with a new ETag.
    js.write_text(SCRIPT + "// v2\n")
    os.utime(js, ns=(1, 2))  # a different mtime even on coarse file systems
    changed = client.get(
        "/widget.js", headers={"Accept-Encoding": "identity", "If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.text.endswith("// v2\n")
    assert changed.headers["etag"] != etag


def test_demo_page(
    client: TestClient, session: Session, settings: Settings, files: tuple[Path, Path]
) -> None:
    _, page = files
    assert client.get("/demo").status_code == 503  # no page in this installation
    page.write_text(TEMPLATE)
    missing = client.get("/demo")
    assert missing.status_code == 404 and "deskpilot up" in missing.text
    assert missing.headers["content-type"] == "text/html; charset=utf-8"

    product = make_product(session, slug=settings.demo_product)
    key = service.ensure_demo_site_key(session=session, product_id=product.id or 0, port=8000)
    assert key is not None and key.name == "demo"
    resp = client.get("/demo")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.headers["cache-control"] == "no-store"
    assert f'src="/widget.js" data-site-key="{key.public_id}"' in resp.text
    assert "{{" not in resp.text
    # The page's own origin may use the key (the demo page is served by the API itself).
    assert start(client, key, origin="http://localhost:8000").status_code == 201
    assert start(client, key, origin="http://localhost:9999").status_code == 403

    service.revoke_site_key(session=session, site_key=key)
    assert client.get("/demo").status_code == 404


def test_ensure_demo_site_key(session: Session) -> None:
    product = make_product(session)
    pid = product.id or 0
    key = service.ensure_demo_site_key(session=session, product_id=pid, port=8000)
    assert key is not None
    assert key.allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert service.ensure_demo_site_key(session=session, product_id=pid, port=8000) == key
    # An origin an admin added stays; the loopback ones follow the port.
    data = SiteKeyUpdate(allowed_origins=[*key.allowed_origins, "https://bank.example.com"])
    service.update_site_key(session=session, site_key=key, data=data)
    moved = service.ensure_demo_site_key(session=session, product_id=pid, port=9100)
    assert moved is not None and moved.id == key.id
    assert moved.allowed_origins == [
        "http://127.0.0.1:9100",
        "http://localhost:9100",
        "https://bank.example.com",
    ]
    assert len(service.list_site_keys(session=session, product_id=pid)) == 1
    # A demo key an admin revoked is not brought back.
    service.revoke_site_key(session=session, site_key=moved)
    assert service.ensure_demo_site_key(session=session, product_id=pid, port=8000) is None
    assert len(service.list_site_keys(session=session, product_id=pid)) == 1
