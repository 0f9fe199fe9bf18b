"""The widget on the demo page (``/demo``, served by the API, with its own aggressive CSS), driven
in real headless Chromium: streamed sourced answers, feedback, handoff and live agent messages,
history across reloads, keyboard-only use, inert markup from the knowledge, and screenshots."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import RESULTS, XSS_IMG, XSS_QUESTION, Console, Stack, W, Widget

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CARD_QUESTION = "my card still hasn't arrived"
CARD_ANSWER = "Standard delivery takes 5-7 working days"
# the elements inside `el` that stick out on its right (what makes it scroll sideways)
WIDER_THAN = """(el) => {
  const right = el.getBoundingClientRect().right;
  return [...el.querySelectorAll("*")]
    .filter((c) => c.getBoundingClientRect().right > right + 0.5)
    .map((c) => `${c.tagName.toLowerCase()}.${c.getAttribute("class") || ""}`
      + ` (${Math.round(c.getBoundingClientRect().width)} px)`);
}"""


def open_demo(page: Page, stack: Stack) -> Widget:
    page.goto(f"{stack.base}/demo")
    widget = Widget(page, stack.site_key)
    widget.wait_ready()
    return widget


def test_demo_page_streams_a_sourced_answer(page: Page, stack: Stack) -> None:
    console = Console(page)
    widget = open_demo(page, stack)
    expect(widget.panel).to_be_hidden()
    widget.open()
    assert widget.focused_class() == "textarea", "focus did not move into the panel"
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")

    widget.input.fill(CARD_QUESTION)
    send = f"{stack.base}/api/v1/widget/conversations/"
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.startswith(send) and "/messages" in r.url
    ) as answer:
        widget.input.press("Enter")
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.request.headers.get("accept") == "text/event-stream"

    row = widget.wait_answers(1)
    expect(row.locator(".bubble")).to_contain_text(CARD_ANSWER)
    chip = row.locator(".chip").first
    expect(chip).to_be_visible()
    expect(chip.locator("b")).to_have_text("1")
    # the demo FAQ entry has a URL: the chip links to it, safely
    expect(chip).to_have_attribute("href", re.compile(r"^https://help\.lumenbank\.example/"))
    expect(chip).to_have_attribute("rel", re.compile("noopener"))
    assert widget.stored() is not None, "the conversation is not kept for a reload"
    assert console.deskpilot() == [], console.deskpilot()


def test_thumbs_down_with_a_comment_is_stored(page: Page, stack: Stack) -> None:
    widget = open_demo(page, stack)
    widget.open()
    row = widget.ask(CARD_QUESTION)
    row.locator('.thumb[aria-label="Not helpful"]').click()
    comment = row.locator(".comment textarea")
    expect(comment).to_be_focused()
    comment.fill("It did not say what to do after 10 days")
    row.locator(".comment button[type=submit]").click()
    expect(row.locator(".note")).to_have_text("Thanks for your feedback!")
    expect(row.locator('.thumb[aria-label="Not helpful"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    detail = stack.wait_conversation(
        widget.conversation_id(),
        lambda c: any(m.get("feedback") for m in c["messages"]),
        "the rating on the bot message",
    )
    rated = [m for m in detail["messages"] if m.get("feedback")]
    assert len(rated) == 1 and rated[0]["role"] == "bot"
    assert CARD_ANSWER in rated[0]["text"]
    assert rated[0]["feedback"]["rating"] == "down"
    assert rated[0]["feedback"]["comment"] == "It did not say what to do after 10 days"


def test_talk_to_a_person_then_agent_messages_arrive_live(page: Page, stack: Stack) -> None:
    widget = open_demo(page, stack)
    widget.open()
    widget.ask(CARD_QUESTION)
    cid = widget.conversation_id()

    widget.q(".person").click()
    expect(widget.q(".status")).to_have_text("Waiting for a person…")
    expect(widget.q(".person")).to_be_hidden()
    stack.wait_conversation(
        cid, lambda c: c["conversation"]["status"] == "waiting_for_agent", "waiting_for_agent"
    )

    stack.agent_reply(cid, "Hi, I'm Sam from Lumen. I've ordered you a new card.")
    agent = widget.q(".row.agent")
    expect(agent).to_have_count(1)
    expect(agent.locator(".bubble")).to_contain_text("I've ordered you a new card.")
    expect(agent.locator(".who")).to_have_text("Support agent")
    expect(widget.q(".status")).to_have_text("You're chatting with a person.")

    # closed panel: the next agent message shows as an unread badge on the launcher
    widget.q(".x").click()
    expect(widget.panel).to_be_hidden()
    stack.agent_reply(cid, "It ships tomorrow.")
    expect(widget.q(".badge")).to_have_text("1")
    expect(widget.launcher).to_have_attribute("aria-label", re.compile("1 unread message"))
    widget.open()
    expect(widget.q(".badge")).to_be_hidden()
    expect(widget.q(".row.agent")).to_have_count(2)


def test_history_survives_a_reload(page: Page, stack: Stack) -> None:
    widget = open_demo(page, stack)
    widget.open()
    widget.ask(CARD_QUESTION)
    widget.ask("How long does a transfer abroad take?")
    cid = widget.conversation_id()
    before = widget.q(".log .bubble").all_inner_texts()

    page.reload()
    widget.wait_ready()
    widget.open()
    widget.wait_answers(2)
    assert widget.conversation_id() == cid
    expect(widget.q(".row.visitor")).to_have_count(2)
    expect(widget.q(".row.visitor").first).to_contain_text(CARD_QUESTION)
    after = widget.q(".log .bubble").all_inner_texts()
    assert after == before
    expect(widget.q(".row.bot .chip").first).to_be_visible()  # sources come back too


def test_keyboard_only_flow(page: Page, stack: Stack) -> None:
    widget = open_demo(page, stack)
    for _ in range(25):  # the page's links, button and textarea come first
        page.keyboard.press("Tab")
        if widget.focused_class() == "launcher":
            break
    assert widget.focused_class() == "launcher", "Tab never reached the launcher"

    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    assert widget.focused_class() == "textarea"
    page.keyboard.type(CARD_QUESTION)
    page.keyboard.press("Enter")
    expect(widget.wait_answers(1).locator(".bubble")).to_contain_text(CARD_ANSWER)

    # the focus trap: Tab and Shift+Tab cycle inside the open panel
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        page.keyboard.press(key)
        assert page.evaluate("document.activeElement && document.activeElement.tagName") == (
            "DESKPILOT-WIDGET"
        ), f"{key} left the widget"
        assert widget.focused_class() not in (None, "launcher")

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    assert widget.focused_class() == "launcher", "focus did not return to the launcher"
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")


def test_xss_in_a_knowledge_passage_renders_as_text(page: Page, stack: Stack) -> None:
    widget = open_demo(page, stack)
    widget.open()
    row = widget.ask(XSS_QUESTION)
    bubble = row.locator(".bubble")
    expect(bubble).to_contain_text(XSS_IMG)  # shown literally
    expect(bubble).to_contain_text("click")
    assert widget.q("img").count() == 0
    assert widget.q('[href^="javascript" i]').count() == 0
    assert widget.q("[onerror]").count() == 0

    chip = row.locator(".chip").first  # no URL: the chip shows the passage
    chip.click()
    snippet = row.locator(".snippet")
    expect(snippet).to_be_visible()
    expect(snippet).to_contain_text("onerror")
    assert widget.q("img").count() == 0
    bubble.get_by_text("click", exact=False).first.click()
    page.wait_for_timeout(300)  # give a handler (there must be none) a moment to run
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.querySelectorAll('img').length") == 0  # not in the page either


@pytest.mark.parametrize(
    ("name", "viewport"),
    [
        ("desktop", {"width": 1280, "height": 800}),
        ("mobile", {"width": 375, "height": 812}),
        ("narrow", {"width": 320, "height": 640}),  # the smallest width the widget supports
    ],
)
def test_open_widget_with_an_answer_fits_and_is_captured(
    new_context: Callable[..., BrowserContext], stack: Stack, name: str, viewport: dict[str, Any]
) -> None:
    """Screenshots of desktop and 375 px mobile go to bench/results/widget-*.png."""
    phone = name != "desktop"
    page = new_context(viewport=viewport, is_mobile=phone, has_touch=phone).new_page()
    widget = open_demo(page, stack)
    # a page wider than the screen would push the fixed launcher off-screen on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    expect(widget.launcher).to_be_in_viewport(ratio=1)
    widget.open()
    widget.ask(CARD_QUESTION)
    box = widget.panel.bounding_box()
    assert box is not None
    if phone:  # under 480 px the panel is full-screen
        size = (round(box["width"]), round(box["height"]))
        assert size == (viewport["width"], viewport["height"]), box
    else:
        assert box["width"] == pytest.approx(380, abs=1) and box["x"] + box["width"] <= 1280
    for sel in (".log", ".composer"):  # nothing inside the panel scrolls sideways
        wide = widget.q(sel).evaluate(WIDER_THAN)
        assert wide == [], f"{sel} scrolls sideways at {viewport['width']} px: {wide}"
    expect(widget.q(".composer .sendb")).to_be_in_viewport(ratio=1)
    expect(widget.q(".head .x")).to_be_in_viewport(ratio=1)
    assert page.locator(W).count() == 1
    if name in ("desktop", "mobile"):
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"widget-{name}.png"
        page.screenshot(path=str(path), animations="disabled")
        assert path.stat().st_size > 5000
