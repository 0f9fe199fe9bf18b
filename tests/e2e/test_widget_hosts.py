"""The widget on customers' pages served from other origins: an allowed origin (real CORS in a
real browser), an origin the site key does not allow, and host CSS that must not change it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, Stack, W, Widget

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# elements inside the widget whose looks the host page must not change
ELEMENTS = [".launcher", ".panel", ".head", ".title", ".log", ".composer textarea", ".sendb"]
PROPS = [
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "line-height",
    "letter-spacing",
    "text-transform",
    "color",
    "background-color",
    "padding-top",
    "padding-left",
    "margin-top",
    "border-top-width",
    "border-top-style",
    "border-top-left-radius",
    "box-sizing",
    "display",
    "position",
    "opacity",
    "filter",
]
MEASURE = """([host, elements, props]) => {
  const root = document.querySelector(host).shadowRoot;
  const out = {};
  for (const sel of elements) {
    const el = root.querySelector(sel);
    if (!el) { out[sel] = null; continue; }
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    out[sel] = Object.fromEntries(props.map((p) => [p, cs.getPropertyValue(p)]));
    // from the viewport's bottom-right corner (where the widget sits), minus any scrollbar
    const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
    out[sel].rect = [vw - r.right, vh - r.bottom, r.width, r.height].map((v) => Math.round(v));
  }
  return out;
}"""


def measure(page: Page, url: str, site_key: str) -> dict[str, Any]:
    page.goto(url)
    widget = Widget(page, site_key)
    widget.wait_ready()
    closed = page.evaluate(MEASURE, [W, [".launcher"], PROPS])[".launcher"]
    widget.open()
    opened: dict[str, Any] = page.evaluate(MEASURE, [W, ELEMENTS, PROPS])
    opened["launcher (closed)"] = closed
    return opened


def test_allowed_cross_origin_host_page_gets_answers(page: Page, stack: Stack) -> None:
    console = Console(page)
    page.goto(f"{stack.host.origin}/plain.html")
    widget = Widget(page, stack.site_key)
    widget.wait_ready()
    widget.open()
    with page.expect_response(lambda r: "/messages" in r.url and r.request.method == "POST") as r:
        row = widget.ask("how long does card delivery take?")
    response = r.value
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == stack.host.origin
    expect(row.locator(".bubble")).to_contain_text("working days")
    expect(row.locator(".chip").first).to_be_visible()
    detail = stack.conversation(widget.conversation_id())
    assert [m["role"] for m in detail["messages"]] == ["visitor", "bot"]
    assert console.deskpilot() == [], console.deskpilot()


def test_disallowed_origin_renders_nothing_and_warns(page: Page, stack: Stack) -> None:
    console = Console(page)
    config = f"{stack.base}/api/v1/widget/config"
    with (
        page.expect_console_message(lambda m: "[deskpilot]" in m.text) as warned,
        page.expect_response(lambda r: r.url.startswith(config)) as refused,
    ):
        page.goto(f"{stack.stranger.origin}/index.html")
    assert refused.value.status == 403
    assert refused.value.json()["error"]["code"] == "origin_not_allowed"
    assert warned.value.type == "warning"
    warnings = console.deskpilot()
    assert len(warnings) == 1, warnings
    assert "origin_not_allowed" in warnings[0]
    assert page.locator(W).count() == 0
    assert page.locator("deskpilot-widget").count() == 0
    page.evaluate("() => window.deskpilot.open()")  # a disabled widget's API does nothing
    assert page.locator("deskpilot-widget").count() == 0


def test_host_css_does_not_change_the_widget(page: Page, stack: Stack) -> None:
    plain = measure(page, f"{stack.host.origin}/plain.html", stack.site_key)
    assert all(plain[sel] is not None for sel in ELEMENTS), plain
    assert plain[".launcher"]["font-size"] == "14px"  # the widget's own, not the page's
    loud = measure(page, f"{stack.host.origin}/aggressive.html", stack.site_key)
    page_font = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert "Courier" in page_font  # the page's CSS does apply to the page itself
    demo = measure(page, f"{stack.base}/demo", stack.site_key)
    for name, got in (("aggressive host page", loud), ("/demo", demo)):
        diffs = {
            f"{sel} {prop}": (plain[sel][prop], got[sel][prop])
            for sel in plain
            for prop in plain[sel]
            if plain[sel][prop] != got[sel][prop]
        }
        assert diffs == {}, f"{name} changed the widget: {diffs}"
