"""The widget's script (``/widget.js``) and the demo host page (``/demo``), outside ``/api/v1``.

``/widget.js`` is the frontend build's single file (``backend/static/widget.js``), cached by the
browser for 5 minutes and revalidated with its ETag (gzip when the browser accepts it). ``/demo``
is ``frontend/widget/demo/index.html`` with ``{{WIDGET_SRC}}`` and ``{{SITE_KEY}}`` filled in:
the demo product's active site key named ``demo`` (``deskpilot up`` creates it). Both files are
read at their place in the installation (``WIDGET_JS``, ``DEMO_HTML``) when a request comes, and
re-read when they change.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

from backend.api.deps import SessionDep, SettingsDep
from backend.products import service as products
from backend.widget import service

ROOT = Path(__file__).resolve().parents[2]
WIDGET_JS = ROOT / "backend" / "static" / "widget.js"
DEMO_HTML = ROOT / "frontend" / "widget" / "demo" / "index.html"
WIDGET_SRC = "/widget.js"
JS_TYPE = "application/javascript; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
JS_CACHE = "public, max-age=300"
MISSING_JS = (
    "/* deskpilot: widget.js is not built. Build the widget (frontend/widget: npm ci && "
    "npm run build), which writes backend/static/widget.js, then reload. */\n"
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class _Asset:
    stamp: tuple[int, int]  # (mtime_ns, size): re-read when the file changes
    body: bytes
    gzipped: bytes
    etag: str


_cache: dict[Path, _Asset] = {}


def _load(path: Path) -> _Asset | None:
    """The file's bytes, gzip and ETag, cached until it changes; None when it is missing."""
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _cache.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        body = path.read_bytes()
    except OSError:
        return None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    asset = _Asset(stamp, body, gzip.compress(body, mtime=0), etag)
    _cache[path] = asset
    return asset


def _accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _etag_matches(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    candidates = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return "*" in candidates or etag in candidates


@router.api_route("/widget.js", methods=["GET", "HEAD"])
def widget_js(request: Request) -> Response:
    """The widget's script for ``<script src=".../widget.js" data-site-key="pk_..." async>``.

    503 (a JavaScript comment saying how to build it) while the bundle is missing."""
    asset = _load(WIDGET_JS)
    if asset is None:
        return Response(
            MISSING_JS, status_code=503, media_type=JS_TYPE, headers={"Cache-Control": "no-store"}
        )
    use_gzip = _accepts_gzip(request)
    # one ETag per encoding: a cache must not answer a gzip request with the plain body's tag
    etag = asset.etag[:-1] + '-gz"' if use_gzip else asset.etag
    headers = {
        "Cache-Control": JS_CACHE,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        # any site embeds it; these let pages use crossorigin/SRI and COEP
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    body = asset.gzipped if use_gzip else asset.body
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, media_type=JS_TYPE, headers=headers)
    return Response(body, media_type=JS_TYPE, headers=headers)


def _page(title: str, text: str, status: int) -> Response:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        f"<body style='font:16px system-ui;margin:3rem'><h1>{html.escape(title)}</h1>"
        f"<p>{text}</p></body></html>"
    )
    return Response(body, status_code=status, media_type=HTML_TYPE)


@router.get("/demo")
def demo_page(session: SessionDep, settings: SettingsDep) -> Response:
    """The demo product's web page with the widget embedded as a customer would embed it.

    404 (a page saying how to fix it) when the demo product has no active ``demo`` site key;
    503 when the demo page is not in this installation."""
    template = _load(DEMO_HTML)
    if template is None:
        return _page(
            "Demo page not available",
            "frontend/widget/demo/index.html is not part of this installation; "
            "run deskpilot from a checkout of the repository.",
            503,
        )
    product = products.get_product_by_slug(session=session, slug=settings.demo_product)
    key = product and service.find_demo_site_key(session=session, product_id=product.id or 0)
    if not key:
        slug = html.escape(settings.demo_product)
        return _page(
            "Demo site key missing",
            f"The demo product <code>{slug}</code> has no active site key named "
            f"<code>demo</code>. <code>deskpilot up</code> (make run) creates it; or run "
            f"<code>deskpilot sitekey create --product {slug} --name demo --origin "
            f"http://127.0.0.1:{settings.port}</code>.",
            404,
        )
    page = (
        template.body.decode("utf-8")
        .replace("{{WIDGET_SRC}}", html.escape(WIDGET_SRC))
        .replace("{{SITE_KEY}}", html.escape(key.public_id))
    )
    # no-store: the page names the current demo key, which a revocation or a rerun may change
    return Response(page, media_type=HTML_TYPE, headers={"Cache-Control": "no-store"})
