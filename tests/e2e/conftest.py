"""A real stack for browser tests: a PostgreSQL database of its own with the demo knowledge (and
one hostile FAQ entry) indexed, a real API process with no generator (answers come from the fast
path and the extractive fallback, streamed as SSE), two host pages on other origins (one allowed
by the site key, one not), and headless Chromium (``/usr/bin/chromium``, never a downloaded one).

The widget renders in an open shadow root on ``<deskpilot-widget data-deskpilot>``; Playwright's
CSS selectors pierce open roots, so ``W + " .launcher"`` finds the real launcher.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    sync_playwright,
)
from playwright.sync_api import expect as pw_expect

from backend.knowledge.ingest import ingest_file
from backend.products import service as products
from backend.products.models import ProductCreate
from backend.widget import service as site_keys
from backend.widget.models import SiteKeyCreate
from tests.factories import auth, make_user
from tests.procs import ROOT, Procs, agent_conversation, free_port, wait_for
from tests.stack import running_stack

DEMO = ROOT / "data" / "demo"
RESULTS = ROOT / "bench" / "results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
W = "deskpilot-widget[data-deskpilot]"  # the widget's host element
TIMEOUT_MS = 30_000  # generous: a 2-core machine runs the API, PostgreSQL and Chromium at once
pw_expect.set_options(timeout=TIMEOUT_MS)  # expect(...) waits as long as actions do

XSS_QUESTION = "How do I redeem a Lumen Sparkle voucher code?"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_LINK = "[click](javascript:window.__xss=2)"
XSS_FAQ = {
    "id": "faq-sparkle-voucher",
    "category": "sparkle_voucher",
    "question": XSS_QUESTION,
    "alternatives": ["where do I enter my Sparkle voucher", "Sparkle voucher code redeem"],
    # an editor pasted markup into the approved answer: the widget must show it as text
    "answer": f"Enter the code in Profile > Vouchers. {XSS_IMG} Or {XSS_LINK} to open it.",
    "tags": ["voucher"],
}

AGGRESSIVE_CSS = """
  html { font-size: 30px !important; }
  * { font-family: "Courier New", monospace !important; color: #0f0 !important;
      line-height: 3 !important; letter-spacing: .2em !important; box-sizing: content-box !important;
      padding: 11px !important; margin: 7px !important; border: 2px dotted red !important;
      text-transform: uppercase !important; font-weight: 900 !important;
      background: #222 !important; border-radius: 0 !important; transition: all 2s !important; }
  button, textarea, div, span, svg, a { width: 300px !important; height: 90px !important;
      font-size: 26px !important; display: block !important; position: static !important;
      visibility: visible !important; opacity: .5 !important; }
  deskpilot-widget { display: block !important; position: absolute !important;
      transform: scale(.5) !important; filter: blur(3px) !important; font-size: 40px !important;
      color: #f0f !important; zoom: 2 !important; }
  [hidden] { display: block !important; }
  :focus { outline: 6px dashed magenta !important; }
"""


def host_page(title: str, widget_src: str, site_key: str, css: str = "") -> str:
    """A customer's page embedding the widget exactly as the docs say."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body>
  <h1>{title}</h1>
  <p>A shop page on another origin.</p>
  <a href="#top">Top</a>
  <script src="{widget_src}" data-site-key="{site_key}" async></script>
</body></html>"""


class HostServer:
    """A tiny static HTTP server (its own origin) serving host pages from a dict."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        pages_ref = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages_ref.get(self.path.split("?", 1)[0])
                data = (body or "not found").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> HostServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    base: str  # the API (and /demo) origin
    site_key: str
    product_id: int
    owner: dict[str, str]  # bearer headers for the agent API
    host: HostServer  # an origin the key allows: /plain.html, /aggressive.html
    stranger: HostServer  # an origin the key does not allow: /index.html
    procs: Procs

    def conversation(self, conversation_id: int) -> dict[str, Any]:
        """The agent API's view of a conversation (messages with traces and feedback)."""
        return agent_conversation(self.base, self.owner, conversation_id)

    def wait_conversation(
        self, conversation_id: int, check: Callable[[dict[str, Any]], Any], what: str
    ) -> dict[str, Any]:
        """Poll the agent API until ``check(conversation)`` is truthy."""
        found: dict[str, Any] = {}

        def ok() -> bool:
            found.update(self.conversation(conversation_id))
            return bool(check(found))

        wait_for(ok, 30, what, every=0.3)
        return found

    def agent_reply(self, conversation_id: int, text: str) -> dict[str, Any]:
        resp = httpx.post(
            f"{self.base}/api/v1/agent/conversations/{conversation_id}/messages",
            json={"text": text},
            headers=self.owner,
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        return dict(resp.json())


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo product (knowledge ingested, a ``demo`` site key for the API's own origin and one
    host origin) served by a real API process; one for every e2e module."""
    tmp = tmp_path_factory.mktemp("e2e")
    api_port = free_port()
    api_origin = f"http://127.0.0.1:{api_port}"
    slug = "lumen-e2e"
    env = {
        "DESKPILOT_DEMO_PRODUCT": slug,
        "DESKPILOT_LLM_BASE_URL": "",
        "DESKPILOT_BROKER_URL": "memory://",
        "DESKPILOT_REDIS_URL": "",
        "DESKPILOT_VLLM_AUTOSTART": "false",
        "DESKPILOT_LOG_LEVEL": "WARNING",
    }
    with running_stack(tmp, "deskpilot_e2e", env=env) as running:
        host, stranger = HostServer({}).start(), HostServer({}).start()
        running.on_stop(host.stop)
        running.on_stop(stranger.stop)
        extra = tmp / "sparkle.jsonl"
        extra.write_text(json.dumps(XSS_FAQ) + "\n")
        with running.session() as session:
            product = products.create_product(
                session=session, data=ProductCreate(slug=slug, name="Lumen Bank")
            )
            product_id = product.id or 0
            for path in (DEMO / "faq.jsonl", DEMO / "terms-and-fees.md", extra):
                ingest_file(
                    session=session,
                    settings=running.settings,
                    product_id=product_id,
                    path=path,
                    name=path.name,
                )
            key = site_keys.create_site_key(
                session=session,
                product_id=product_id,
                data=SiteKeyCreate(
                    name=site_keys.DEMO_KEY_NAME, allowed_origins=[api_origin, host.origin]
                ),
            )
            owner = auth(make_user(session, owner=True), running.settings)
            site_key = key.public_id
        src = f"{api_origin}/widget.js"
        host.pages.update(
            {
                "/plain.html": host_page("Plain shop", src, site_key),
                "/aggressive.html": host_page("Loud shop", src, site_key, AGGRESSIVE_CSS),
            }
        )
        stranger.pages["/index.html"] = host_page("Not allowed", src, site_key)
        base = running.start_api(api_port)
        demo = httpx.get(f"{base}/demo", timeout=10)
        assert demo.status_code == 200 and site_key in demo.text, demo.text[:500]
        yield Stack(base, site_key, product_id, owner, host, stranger, running.procs)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (never a downloaded one)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts (own storage) for one test; closed after it."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        opts: dict[str, Any] = {
            "viewport": {"width": 1280, "height": 800},
            "locale": "en-US",
            "reduced_motion": "reduce",
            **options,
        }
        ctx = browser.new_context(**opts)
        ctx.set_default_timeout(TIMEOUT_MS)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


class Console:
    """The page's console messages (for the widget's ``[deskpilot]`` warnings)."""

    def __init__(self, page: Page) -> None:
        self.messages: list[ConsoleMessage] = []
        page.on("console", lambda message: self.messages.append(message))

    def deskpilot(self) -> list[str]:
        return [m.text for m in self.messages if "[deskpilot]" in m.text]


class Widget:
    """Drives the widget on a page through its real DOM (open shadow root)."""

    def __init__(self, page: Page, site_key: str) -> None:
        self.page = page
        self.site_key = site_key

    def q(self, selector: str) -> Locator:
        return self.page.locator(f"{W} {selector}")

    @property
    def launcher(self) -> Locator:
        return self.q(".launcher")

    @property
    def panel(self) -> Locator:
        return self.q(".panel")

    @property
    def input(self) -> Locator:
        return self.q(".composer textarea")

    def wait_ready(self) -> None:
        pw_expect(self.launcher).to_be_visible()

    def open(self) -> None:
        self.launcher.click()
        pw_expect(self.panel).to_be_visible()

    def focused_class(self) -> str | None:
        """The class of the element focused inside the widget (None: focus is outside)."""
        found = self.page.evaluate(
            """(sel) => {
                const host = document.querySelector(sel);
                const el = host && host.shadowRoot && host.shadowRoot.activeElement;
                return el ? (el.className || el.tagName.toLowerCase()) : null;
            }""",
            W,
        )
        return None if found is None else str(found)

    def ask(self, text: str) -> Locator:
        """Send ``text`` and wait for the complete answer; returns the answer's row."""
        before = self.q('.row.bot[aria-busy="false"] .actions').count()
        self.input.fill(text)
        self.input.press("Enter")
        pw_expect(self.q(".row.visitor").last).to_contain_text(text)
        return self.wait_answers(before + 1)

    def wait_answers(self, n: int) -> Locator:
        """Wait until ``n`` stored bot answers (with feedback buttons) are shown."""
        done = self.q('.row.bot[aria-busy="false"]').filter(has=self.page.locator(".actions"))
        pw_expect(done).to_have_count(n)
        return done.nth(n - 1)

    def stored(self) -> dict[str, Any] | None:
        """The widget's saved conversation (localStorage ``deskpilot:v1:<site key>``)."""
        raw = self.page.evaluate("(k) => localStorage.getItem(k)", f"deskpilot:v1:{self.site_key}")
        return json.loads(raw) if raw else None

    def conversation_id(self) -> int:
        saved = self.stored()
        assert saved, "the widget saved no conversation"
        return int(saved["conversationId"])


__all__ = ["RESULTS", "TIMEOUT_MS", "XSS_IMG", "XSS_QUESTION", "Console", "Stack", "W", "Widget"]
