/** One message row: bubble (Markdown for bot and agent), source chips, feedback, retry. */
import type { Strings } from "../i18n";
import { makeLink, renderMarkdown, safeUrl } from "../markdown";
import type { ChatMessage, Source } from "../types";
import { h, icon } from "./dom";

export interface MessageActions {
  retry(key: string): void;
  /** `comment` is undefined for a thumb, the text (maybe empty) for the comment form */
  rate(key: string, rating: "up" | "down", comment?: string): void;
}

function chips(sources: Source[], t: Strings): HTMLElement | null {
  if (!sources.length) return null;
  const wrap = h("div");
  const snippet = h("div", { class: "snippet", hidden: true });
  const group = (list: Source[], label: string) => {
    if (!list.length) return;
    const row = h("div", { class: "chips" }, h("span", { class: "chips-label", text: label }));
    for (const s of list) {
      const title = String(s.title || "");
      // the title in its own element: a long one ends in an ellipsis instead of widening the log
      const label = [h("b", { text: String(s.number) }), h("span", { class: "chip-t", text: title })];
      const href = s.url ? safeUrl(s.url) : null;
      if (href) {
        const a = makeLink(document, href);
        a.className = "chip";
        a.title = title;
        label.forEach((x) => a.append(x));
        row.appendChild(a);
      } else {
        const b = h("button", { class: "chip", type: "button", "aria-expanded": "false", title }, ...label);
        b.setAttribute("aria-label", `${t.showPassage(s.number)}: ${title}`);
        b.addEventListener("click", () => {
          const open = b.getAttribute("aria-expanded") === "true";
          wrap.querySelectorAll("button.chip").forEach((x) => x.setAttribute("aria-expanded", "false"));
          snippet.textContent = String(s.snippet || title);
          snippet.hidden = open;
          b.setAttribute("aria-expanded", String(!open));
        });
        row.appendChild(b);
      }
    }
    wrap.appendChild(row);
  };
  group(sources.filter((s) => s.kind !== "related"), t.sources);
  group(sources.filter((s) => s.kind === "related"), t.related);
  wrap.appendChild(snippet);
  return wrap;
}

function feedback(m: ChatMessage, t: Strings, act: MessageActions): HTMLElement[] {
  const thumb = (rating: "up" | "down", label: string) =>
    h(
      "button",
      {
        class: "thumb",
        type: "button",
        "aria-label": label,
        title: label,
        "aria-pressed": String(m.rating === rating),
        onclick: () => act.rate(m.key, rating),
      },
      icon(rating),
    );
  const out: HTMLElement[] = [h("div", { class: "actions" }, thumb("up", t.helpful), thumb("down", t.notHelpful))];
  if (m.commenting) {
    const area = h("textarea", {
      "aria-label": t.commentLabel,
      placeholder: t.commentPlaceholder,
      maxlength: 2000,
      dir: "auto",
    });
    const form = h(
      "form",
      {
        class: "comment",
        onsubmit: (e: Event) => {
          e.preventDefault();
          act.rate(m.key, "down", area.value);
        },
      },
      area,
      h("button", { class: "small-btn", type: "submit", text: t.sendFeedback }),
    );
    out.push(form);
  }
  return out;
}

/** The row of a message (`el` is reused when given, so the log keeps its nodes). */
export function renderMessage(m: ChatMessage, t: Strings, act: MessageActions, el?: HTMLElement): HTMLElement {
  const row = el || h("div");
  // keep a half-written feedback comment across re-renders
  const draft = row.querySelector<HTMLTextAreaElement>(".comment textarea")?.value;
  row.className = `row ${m.role}`;
  row.textContent = "";
  if (m.role === "bot") row.setAttribute("aria-busy", String(!!m.pending));
  if (m.role === "system") {
    row.appendChild(h("div", { dir: "auto", text: m.text }));
    return row;
  }
  const col = h("div", { class: "col" });
  const who = m.role === "visitor" ? t.you : m.role === "agent" ? t.agent : t.assistant;
  if (m.role === "agent") col.appendChild(h("div", { class: "who", text: who }));
  if (m.pending && !m.text) {
    col.appendChild(
      h("div", { class: "bubble typing", role: "img", "aria-label": t.typing }, h("span"), h("span"), h("span")),
    );
  } else {
    const bubble = h("div", { class: "bubble", dir: "auto" }, h("span", { class: "sr", text: `${who}: ` }));
    if (m.role === "visitor") bubble.appendChild(document.createTextNode(m.text));
    else bubble.appendChild(renderMarkdown(m.text));
    col.appendChild(bubble);
  }
  const sources = m.pending ? null : chips(m.sources, t);
  if (sources) col.appendChild(sources);
  if (m.notice) col.appendChild(h("div", { class: "note", role: "status", text: m.notice }));
  if (m.failed) {
    const fail = h("div", { class: "fail", role: "alert" }, h("span", { text: m.failed }));
    if (m.retry) {
      fail.appendChild(
        h("button", { class: "link-btn", type: "button", text: t.retry, onclick: () => act.retry(m.key) }),
      );
    }
    col.appendChild(fail);
  }
  if (m.role === "bot" && m.id !== null && !m.pending && !m.local) {
    feedback(m, t, act).forEach((x) => col.appendChild(x));
    const area = col.querySelector<HTMLTextAreaElement>(".comment textarea");
    if (area && draft) area.value = draft;
  }
  row.appendChild(col);
  return row;
}
