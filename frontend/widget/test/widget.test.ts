import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { apiBase, boot, findScript } from "../src/boot";
import { CSS } from "../src/ui/styles";
import { apiError, json, mockFetch, sse, sseResponse, until } from "./helpers";

const CONFIG = {
  site_key: "pk_demo",
  product_name: "Lumen Bank",
  language: "en",
  theme: { color: "#0f766e", position: "right", title: "Lumen Bank help", greeting: "Hi! Ask me anything.", avatar_url: null },
};
const BASE = "/api/v1/widget/conversations";

function script(attrs: Record<string, string> = {}): HTMLScriptElement {
  const s = document.createElement("script");
  s.setAttribute("src", "https://desk.example/widget.js");
  s.setAttribute("data-site-key", "pk_demo");
  for (const [k, v] of Object.entries(attrs)) s.setAttribute(k, v);
  document.head.appendChild(s);
  return s;
}

async function start(routes: Parameters<typeof mockFetch>[0], config: unknown = CONFIG) {
  const m = mockFetch({ "GET /api/v1/widget/config": () => json(config), ...routes });
  vi.stubGlobal("fetch", m.fetch);
  const w = await boot(script());
  const $ = <T extends Element = HTMLElement>(sel: string) => w!.view.root.querySelector<T>(sel)!;
  const $$ = (sel: string) => Array.from(w!.view.root.querySelectorAll<HTMLElement>(sel));
  return { ...m, w: w!, $, $$ };
}

function key(el: Element, k: string, opts: KeyboardEventInit = {}) {
  el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, composed: true, cancelable: true, ...opts }));
}

beforeEach(() => {
  localStorage.clear();
  document.body.innerHTML = "";
  document.head.innerHTML = "";
  delete (window as any).deskpilot;
});
afterEach(() => vi.unstubAllGlobals());

describe("embedding", () => {
  it("finds its script tag and derives the API base from its origin", () => {
    const s = script();
    expect(findScript(document)).toBe(s);
    expect(apiBase(s, "https://shop.example/")).toBe("https://desk.example");
    s.setAttribute("data-api-base", "https://api.example/desk/");
    expect(apiBase(s)).toBe("https://api.example/desk");
  });

  it("renders inside an open shadow root with a reset host", async () => {
    const { w, $ } = await start({});
    const host = document.querySelector("deskpilot-widget[data-deskpilot]")!;
    expect(host).toBe(w.view.host);
    expect(host.shadowRoot).toBe(w.view.root); // open: browser tests can reach in
    const sheets = (w.view.root as ShadowRoot & { adoptedStyleSheets?: CSSStyleSheet[] }).adoptedStyleSheets || [];
    const css = sheets.length
      ? Array.from(sheets[0].cssRules, (r) => r.cssText).join("\n")
      : w.view.root.querySelector("style")!.textContent!;
    expect(css).toMatch(/:host\s*\{\s*all:\s*initial/);
    expect(CSS).toContain(":host{all:initial!important;"); // important: it beats the page's !important
    expect($(".root").style.getPropertyValue("--dp-color").trim()).toBe("#0f766e");
    expect($(".launcher").getAttribute("aria-label")).toBe("Open chat");
    expect($(".panel").getAttribute("role")).toBe("dialog");
    expect($(".panel").getAttribute("aria-label")).toBe("Lumen Bank help");
    expect($(".log").getAttribute("role")).toBe("log");
    expect($(".log").getAttribute("aria-live")).toBe("polite");
    expect($(".log").textContent).toContain("Hi! Ask me anything."); // the greeting, not fetched
  });

  it("renders nothing and warns once when the key or origin is refused (403)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const m = mockFetch({ "GET /api/v1/widget/config": () => apiError(403, "origin_not_allowed", "origin not allowed") });
    vi.stubGlobal("fetch", m.fetch);
    expect(await boot(script())).toBeNull();
    expect(document.querySelector("deskpilot-widget")).toBeNull();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/^\[deskpilot\] .*origin_not_allowed/);
    expect(() => (window as any).deskpilot.open()).not.toThrow();
    expect(m.calls).toHaveLength(1);
  });

  it("falls back to defaults when the settings cannot be loaded", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const m = mockFetch({ "GET /api/v1/widget/config": () => Promise.reject(new TypeError("Failed to fetch")) });
    vi.stubGlobal("fetch", m.fetch);
    const w = await boot(script());
    expect(w!.view.root.querySelector(".title")!.textContent).toBe("Support");
    expect(w!.view.root.querySelector<HTMLElement>(".root")!.style.getPropertyValue("--dp-color").trim()).toBe("#2563eb");
  });

  it("speaks Simplified Chinese when configured", async () => {
    const { $ } = await start({}, { ...CONFIG, language: "zh-CN", theme: { ...CONFIG.theme, position: "left", color: "red" } });
    expect($(".launcher").getAttribute("aria-label")).toBe("打开聊天");
    expect($(".person").textContent).toBe("转人工客服");
    expect($(".root").className).toContain("left");
    expect($(".root").style.getPropertyValue("--dp-color").trim()).toBe("#2563eb"); // "red" is not #RRGGBB
  });
});

describe("keyboard and focus", () => {
  it("opens with focus in the composer, traps Tab, closes on Esc back to the launcher", async () => {
    const { w, $ } = await start({});
    const events: string[] = [];
    (window as any).deskpilot.on("open", () => events.push("open"));
    (window as any).deskpilot.on("close", () => events.push("close"));
    $<HTMLButtonElement>(".launcher").focus();
    $<HTMLButtonElement>(".launcher").click();
    expect($(".panel").hidden).toBe(false);
    expect($(".launcher").getAttribute("aria-expanded")).toBe("true");
    expect(w.view.activeElement).toBe($("textarea"));
    // Tab from the last control wraps to the first, Shift+Tab from the first to the last
    $<HTMLButtonElement>(".sendb").focus();
    key($(".sendb"), "Tab");
    expect(w.view.activeElement).toBe($(".x"));
    key($(".x"), "Tab", { shiftKey: true });
    expect(w.view.activeElement).toBe($(".sendb"));
    key($("textarea"), "Escape");
    expect($(".panel").hidden).toBe(true);
    expect(w.view.activeElement).toBe($(".launcher"));
    expect(events).toEqual(["open", "close"]);
  });

  it("does not send while an IME is composing", async () => {
    const { $, calls } = await start({});
    $<HTMLButtonElement>(".launcher").click();
    $<HTMLTextAreaElement>("textarea").value = "你好";
    key($("textarea"), "Enter", { isComposing: true });
    expect($<HTMLTextAreaElement>("textarea").value).toBe("你好");
    expect(calls).toHaveLength(1); // the config only
  });
});

describe("chatting", () => {
  const routes = (answer: string[]) => ({
    [`POST ${BASE}`]: () => json({ conversation: { id: 1, status: "bot" }, visitor_token: "tok" }, 201),
    [`POST ${BASE}/1/messages`]: () => sseResponse(answer),
    [`GET ${BASE}/1/events`]: ({ init }: { init: RequestInit }) => sseResponse([], { open: true, signal: init.signal as AbortSignal }),
  });

  it("sends on Enter and renders the streamed answer as safe Markdown with source chips", async () => {
    const xss = `<img src=x onerror="window.__pwned=1"> [bad](javascript:alert(1))`;
    const { $, $$ } = await start(
      routes([
        sse("token", { text: "**Cards** arrive in 5 days [1]. " }),
        sse("token", { text: xss }),
        sse("sources", {
          sources: [
            { number: 1, title: "Card delivery", url: "https://lumen.example/cards", snippet: "…", kind: "cited" },
            { number: 2, title: "Fees", url: "javascript:alert(2)", snippet: `<b>passage</b> ${xss}`, kind: "related" },
          ],
        }),
        sse("done", { message_id: 11 }),
      ]),
    );
    $<HTMLButtonElement>(".launcher").click();
    $<HTMLTextAreaElement>("textarea").value = "where is my card";
    key($("textarea"), "Enter");
    await until(() => $$(".thumb").length === 2);
    const bubble = $$(".row.bot .bubble").pop()!;
    expect(bubble.querySelector("strong")!.textContent).toBe("Cards");
    expect(bubble.textContent).toContain(`<img src=x onerror="window.__pwned=1">`);
    expect(bubble.querySelector("img")).toBeNull();
    expect(bubble.querySelector("a")).toBeNull();
    expect($(".row.bot").getAttribute("dir")).toBeNull();
    expect(bubble.getAttribute("dir")).toBe("auto");
    const [link, button] = $$(".chip");
    expect(link.tagName).toBe("A");
    expect(link.getAttribute("href")).toBe("https://lumen.example/cards");
    expect(link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(link.querySelector(".chip-t")!.textContent).toBe("Card delivery"); // its own box: ellipsis
    expect(button.tagName).toBe("BUTTON"); // a javascript: URL is no link: the chip shows the passage
    button.click();
    expect($(".snippet").hidden).toBe(false);
    expect($(".snippet").textContent).toContain("<b>passage</b>");
    expect($(".snippet").children).toHaveLength(0);
    expect(button.getAttribute("aria-expanded")).toBe("true");
    expect((window as any).__pwned).toBeUndefined();
  });

  it("shows a typing indicator until the first token", async () => {
    let release: () => void = () => undefined;
    const r = routes([sse("token", { text: "Hi" }), sse("done", { message_id: 2 })]);
    const { $, $$, calls } = await start({
      ...r,
      [`POST ${BASE}/1/messages`]: async () => {
        await new Promise<void>((ok) => (release = ok));
        return r[`POST ${BASE}/1/messages`]();
      },
    });
    (window as any).deskpilot.open();
    $<HTMLTextAreaElement>("textarea").value = "hello";
    $<HTMLFormElement>(".composer").dispatchEvent(new Event("submit", { cancelable: true }));
    await until(() => calls.some((c) => c.path.endsWith("/messages")));
    expect($$(".typing")).toHaveLength(1);
    expect($(".row.bot:last-child").getAttribute("aria-busy")).toBe("true");
    release();
    await until(() => $$(".typing").length === 0 && $$(".thumb").length === 2);
  });

  it("thumbs-down opens a focused comment box and sends the comment", async () => {
    const { w, $, $$, calls } = await start({
      ...routes([sse("token", { text: "Answer" }), sse("done", { message_id: 11 })]),
      "POST /api/v1/widget/messages/11/feedback": () => json({ rating: "down" }),
    });
    (window as any).deskpilot.open();
    $<HTMLTextAreaElement>("textarea").value = "q";
    key($("textarea"), "Enter");
    await until(() => $$(".thumb").length === 2);
    const down = $$(".thumb")[1];
    down.focus();
    down.click();
    await until(() => !!w.view.root.querySelector(".comment textarea"));
    expect(w.view.activeElement).toBe($(".comment textarea"));
    expect($$(".thumb")[1].getAttribute("aria-pressed")).toBe("true");
    $<HTMLTextAreaElement>(".comment textarea").value = "wrong fee";
    $<HTMLFormElement>(".comment").dispatchEvent(new Event("submit", { cancelable: true }));
    await until(() => $(".row.bot:last-child .note")?.textContent === "Thanks for your feedback!");
    expect(calls.filter((c) => c.path.endsWith("/feedback")).map((c) => c.body)).toEqual([
      { rating: "down", comment: null },
      { rating: "down", comment: "wrong fee" },
    ]);
    expect(w.view.root.querySelector(".comment")).toBeNull();
    expect(w.view.activeElement).toBe($$(".thumb")[1]); // focus is not lost
  });

  it("counts unread agent messages on the launcher while closed", async () => {
    localStorage.setItem("deskpilot:v1:pk_demo", JSON.stringify({ token: "tok", conversationId: 3 }));
    const { $ } = await start({
      [`GET ${BASE}/3/messages`]: () => json([]),
      [`GET ${BASE}/3/events`]: () =>
        sseResponse([
          sse("status", { status: "agent", previous: "waiting_for_agent" }, 1),
          sse("message", { id: 4, role: "agent", text: "Hello, Sam here" }, 2),
        ]),
    });
    await until(() => !$(".badge").hidden);
    expect($(".badge").textContent).toBe("1");
    expect($(".launcher").getAttribute("aria-label")).toContain("1 unread message");
    expect($(".status").textContent).toBe("You're chatting with a person.");
    expect($(".tools").hidden).toBe(true);
    (window as any).deskpilot.open();
    expect($(".badge").hidden).toBe(true);
  });
});
