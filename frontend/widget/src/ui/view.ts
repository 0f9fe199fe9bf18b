/**
 * The widget's DOM: a host element (`<deskpilot-widget data-deskpilot>`) with an open shadow root
 * holding the launcher and the chat panel (a dialog with a focus trap; Esc closes). Renders the
 * store; user actions go to `act`. Open, not closed: styles are isolated either way, and open
 * lets browser tests (Playwright's selectors pierce open roots only) drive the real widget.
 */
import type { Strings } from "../i18n";
import { safeUrl } from "../markdown";
import type { State, Store } from "../store";
import type { ChatMessage } from "../types";
import { focusables, h, icon, safeColor, textOn } from "./dom";
import { renderMessage, type MessageActions } from "./message";
import { CSS } from "./styles";

export interface ViewOptions {
  title: string;
  color: string;
  position: "left" | "right";
  avatarUrl: string | null;
  lang: string;
  t: Strings;
}

export interface ViewActions extends MessageActions {
  send(text: string): void;
  handoff(): void;
  retryBanner(): void;
  openChanged(open: boolean): void;
}

export class View {
  readonly host: HTMLElement;
  private readonly shadow: ShadowRoot;
  private readonly launcher: HTMLButtonElement;
  private readonly badge: HTMLElement;
  private readonly panel: HTMLElement;
  private readonly log: HTMLElement;
  private readonly status: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly person: HTMLButtonElement;
  private readonly input: HTMLTextAreaElement;
  private readonly rows = new Map<string, { el: HTMLElement; v: number }>();
  private last: State | null = null;

  constructor(
    private readonly store: Store,
    private readonly o: ViewOptions,
    private readonly act: ViewActions,
  ) {
    const { t } = o;
    this.host = document.createElement("deskpilot-widget");
    this.host.setAttribute("data-deskpilot", "");
    this.shadow = this.host.attachShadow({ mode: "open" });
    const color = safeColor(o.color);
    const on = textOn(color);
    const link = on === "#ffffff" ? color : "#0b57d0"; // a light brand colour is unreadable as text
    const root = h("div", {
      class: `root ${o.position === "left" ? "left" : "right"}`,
      lang: o.lang,
      dir: "ltr",
    });
    // through the CSSOM, not a style attribute: a page's CSP (style-src) does not block it
    const vars = { color, on, link, focus: link, ring: `${color}40` };
    for (const [k, v] of Object.entries(vars)) root.style.setProperty(`--dp-${k}`, v);
    const panelId = "deskpilot-panel";
    this.badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    this.launcher = h(
      "button",
      { class: "launcher", type: "button", "aria-controls": panelId, "aria-expanded": "false", onclick: () => this.toggle() },
      icon("chat"),
      this.badge,
    );
    const avatar = o.avatarUrl ? safeUrl(o.avatarUrl) : null;
    const head = h(
      "div",
      { class: "head" },
      avatar && !avatar.startsWith("mailto:") ? h("img", { class: "avatar", src: avatar, alt: "" }) : null,
      h("div", { class: "title", id: "deskpilot-title", text: o.title }),
      h("button", { class: "x", type: "button", "aria-label": t.closeChat, title: t.closeChat, onclick: () => this.close() }, icon("close")),
    );
    this.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-labelledby": "deskpilot-title", tabindex: "0" });
    this.status = h("div", { class: "status", role: "status", hidden: true });
    this.banner = h("div", { class: "banner", role: "alert", hidden: true });
    this.person = h("button", { class: "person", type: "button", onclick: () => act.handoff() }, icon("person"), t.talkToPerson);
    this.input = h("textarea", { rows: 1, maxlength: 4000, placeholder: t.placeholder, "aria-label": t.inputLabel, dir: "auto" });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.grow());
    const composer = h(
      "form",
      { class: "composer", onsubmit: (e: Event) => (e.preventDefault(), this.submit()) },
      this.input,
      h("button", { class: "sendb", type: "submit", "aria-label": t.send, title: t.send }, icon("send")),
    );
    this.panel = h(
      "div",
      { class: "panel", id: panelId, role: "dialog", "aria-modal": "true", "aria-label": o.title, hidden: true },
      head,
      this.log,
      this.status,
      this.banner,
      h("div", { class: "tools" }, this.person),
      composer,
    );
    this.panel.addEventListener("keydown", (e) => this.onKey(e));
    root.append(this.launcher, this.panel);
    adoptStyles(this.shadow);
    this.shadow.append(root);
    store.subscribe((s) => this.render(s));
  }

  mount(parent: HTMLElement = document.body): void {
    parent.appendChild(this.host);
    this.render(this.store.get());
  }

  destroy(): void {
    this.host.remove();
  }

  open(): void {
    if (this.store.get().open) return this.input.focus();
    this.store.set({ open: true, unread: 0 });
    this.log.scrollTop = this.log.scrollHeight;
    this.input.focus();
    this.act.openChanged(true);
  }

  close(): void {
    if (!this.store.get().open) return;
    const hadFocus = !!this.shadow.activeElement;
    this.store.set({ open: false });
    if (hadFocus) this.launcher.focus();
    this.act.openChanged(false);
  }

  toggle(): void {
    if (this.store.get().open) this.close();
    else this.open();
  }

  /** The element that has focus inside the widget (for tests). */
  get activeElement(): Element | null {
    return this.shadow.activeElement;
  }

  /** The shadow root, for tests only. */
  get root(): ShadowRoot {
    return this.shadow;
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.grow();
    this.act.send(text);
  }

  private grow(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 120)}px`;
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "Escape") {
      e.stopPropagation();
      this.close();
    } else if (e.key === "Tab") {
      const items = focusables(this.panel);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      const active = this.shadow.activeElement;
      if (e.shiftKey && (active === first || !this.panel.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !this.panel.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    }
  }

  private render(s: State): void {
    const { t } = this.o;
    const prev = this.last;
    this.last = s;
    if (!prev || prev.open !== s.open || prev.unread !== s.unread) {
      this.panel.hidden = !s.open;
      this.launcher.setAttribute("aria-expanded", String(s.open));
      this.launcher.replaceChild(icon(s.open ? "close" : "chat"), this.launcher.firstChild as Node);
      const unread = s.unread > 0 && !s.open;
      this.badge.hidden = !unread;
      this.badge.textContent = unread ? String(Math.min(s.unread, 99)) : "";
      const label = s.open ? t.closeChat : t.openChat;
      this.launcher.setAttribute("aria-label", unread ? `${label} (${t.unread(s.unread)})` : label);
    }
    if (!prev || prev.status !== s.status) {
      const text = s.status === "waiting_for_agent" ? t.waiting : s.status === "agent" ? t.withAgent : s.status === "closed" ? t.closed : "";
      this.status.textContent = text;
      this.status.hidden = !text;
      (this.person.parentElement as HTMLElement).hidden = s.status === "waiting_for_agent" || s.status === "agent";
    }
    if (!prev || prev.banner !== s.banner) this.renderBanner(s);
    if (!prev || prev.messages !== s.messages) this.renderMessages(s.messages);
  }

  private renderBanner(s: State): void {
    this.banner.textContent = "";
    this.banner.hidden = !s.banner;
    if (!s.banner) return;
    this.banner.appendChild(h("span", { text: s.banner.text }));
    if (s.banner.retry) {
      this.banner.appendChild(h("button", { class: "link-btn", type: "button", text: this.o.t.retry, onclick: () => this.act.retryBanner() }));
    }
  }

  /** Re-render a row in place, keeping keyboard focus on the same control. */
  private rerender(el: HTMLElement, m: ChatMessage): void {
    const active = this.shadow.activeElement as HTMLElement | null;
    const focused = active && el.contains(active) ? active.getAttribute("aria-label") : null;
    const hadComment = !!el.querySelector(".comment");
    renderMessage(m, this.o.t, this.act, el);
    const comment = el.querySelector<HTMLElement>(".comment textarea");
    const same = focused !== null && el.querySelector<HTMLElement>(`[aria-label="${CSS_escape(focused)}"]`);
    // the comment box just opened: into it; else the same control, else the chosen thumb
    const target = comment && !hadComment ? comment : focused !== null ? same || el.querySelector<HTMLElement>(".thumb[aria-pressed=true]") : null;
    target?.focus();
  }

  private renderMessages(messages: ChatMessage[]): void {
    const log = this.log;
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const seen = new Set<string>();
    let prev: Element | null = null;
    for (const m of messages) {
      seen.add(m.key);
      let row = this.rows.get(m.key);
      if (!row) {
        row = { el: renderMessage(m, this.o.t, this.act), v: m.v };
        this.rows.set(m.key, row);
      } else if (row.v !== m.v) {
        this.rerender(row.el, m);
        row.v = m.v;
      }
      const want: ChildNode | null = prev ? prev.nextSibling : log.firstChild;
      if (row.el !== want) log.insertBefore(row.el, want);
      prev = row.el;
    }
    for (const [key, row] of this.rows) {
      if (!seen.has(key)) {
        row.el.remove();
        this.rows.delete(key);
      }
    }
    if (stick || messages[messages.length - 1]?.role === "visitor") log.scrollTop = log.scrollHeight;
  }
}

/** Escape a value for a quoted attribute selector. */
function CSS_escape(value: string): string {
  return value.replace(/["\\]/g, "\\$&");
}

/** The stylesheet as a constructed sheet (not subject to a page's CSP), else a <style>. */
function adoptStyles(shadow: ShadowRoot): void {
  try {
    if (!("adoptedStyleSheets" in ShadowRoot.prototype)) throw new Error("no adoptedStyleSheets");
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    (shadow as ShadowRoot & { adoptedStyleSheets: CSSStyleSheet[] }).adoptedStyleSheets = [sheet];
    return;
  } catch {
    /* older browsers, jsdom */
  }
  const style = document.createElement("style");
  style.textContent = CSS;
  shadow.appendChild(style);
}
