/**
 * A small, safe Markdown renderer: paragraphs, line breaks, **bold**, *italic*, `code`, fenced
 * code, lists, headings (as bold lines), [links](https://…), bare URLs and [n] citations.
 * It builds DOM nodes and sets only textContent and vetted attributes: HTML in the text stays
 * text, and links are kept only for http(s) and mailto URLs.
 */

const LIST_ITEM = /^\s{0,3}(?:[-*+]|(\d{1,9})[.)])\s+(.*)$/;
const FENCE = /^\s{0,3}```/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
// code | **bold** | *italic* | [label](url) | [n] | bare URL
const INLINE =
  /`([^`]+)`|\*\*(?=\S)(.*?\S)\*\*(?!\*)|\*(?=[^\s*])([^*]*?[^\s*])\*|\[([^\]]+)\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"]*")?\s*\)|\[(\d{1,3})\]|\b((?:https?:\/\/|mailto:)[^\s<>"'`]+)/g;
const TRAILING_PUNCT = /[.,:;!?)\]}'"]+$/;
const MAX_DEPTH = 4;

/** The URL if it is an absolute http(s) or mailto URL, else null. */
export function safeUrl(raw: string): string | null {
  const s = raw.trim();
  // control characters and spaces can hide a scheme ("java\tscript:"): refuse them outright
  if (!s || /[\u0000-\u0020\u007f-\u009f]/.test(s)) return null;
  if (!/^(?:https?:\/\/|mailto:)/i.test(s)) return null;
  try {
    const url = new URL(s);
    return url.protocol === "http:" || url.protocol === "https:" || url.protocol === "mailto:"
      ? url.href
      : null;
  } catch {
    return null;
  }
}

/** A link that opens in a new tab without giving the page a handle on ours. */
export function makeLink(doc: Document, href: string): HTMLAnchorElement {
  const a = doc.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function inline(doc: Document, text: string, parent: Node, depth: number, links: boolean): void {
  if (depth > MAX_DEPTH) {
    parent.appendChild(doc.createTextNode(text));
    return;
  }
  const re = new RegExp(INLINE.source, "g");
  let last = 0;
  let m: RegExpExecArray | null;
  const text_ = (s: string) => s && parent.appendChild(doc.createTextNode(s));
  while ((m = re.exec(text))) {
    text_(text.slice(last, m.index));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      const code = doc.createElement("code");
      code.textContent = m[1];
      parent.appendChild(code);
    } else if (m[2] !== undefined || m[3] !== undefined) {
      const el = doc.createElement(m[2] !== undefined ? "strong" : "em");
      inline(doc, (m[2] ?? m[3]) as string, el, depth + 1, links);
      parent.appendChild(el);
    } else if (m[4] !== undefined) {
      const href = links ? safeUrl(m[5]) : null;
      if (href) {
        const a = makeLink(doc, href);
        inline(doc, m[4], a, depth + 1, false);
        parent.appendChild(a);
      } else {
        inline(doc, m[4], parent, depth + 1, false); // an unsafe link keeps only its label
      }
    } else if (m[6] !== undefined) {
      const cite = doc.createElement("span");
      cite.className = "cite";
      cite.textContent = `[${m[6]}]`;
      parent.appendChild(cite);
    } else {
      const raw = m[7];
      const trail = (raw.match(TRAILING_PUNCT) || [""])[0];
      const url = raw.slice(0, raw.length - trail.length);
      const href = links ? safeUrl(url) : null;
      if (href) {
        const a = makeLink(doc, href);
        a.textContent = url;
        parent.appendChild(a);
      } else text_(url);
      text_(trail);
    }
  }
  text_(text.slice(last));
}

/** Inline Markdown of one or more lines, with <br> between lines. */
function lines(doc: Document, rows: string[], parent: Node): void {
  rows.forEach((row, i) => {
    if (i) parent.appendChild(doc.createElement("br"));
    inline(doc, row, parent, 0, true);
  });
}

/** Render Markdown text as a fragment of safe DOM nodes. */
export function renderMarkdown(text: string, doc: Document = document): DocumentFragment {
  const out = doc.createDocumentFragment();
  const rows = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < rows.length) {
    const row = rows[i];
    if (!row.trim()) {
      i++;
      continue;
    }
    if (FENCE.test(row)) {
      const body: string[] = [];
      for (i++; i < rows.length && !FENCE.test(rows[i]); i++) body.push(rows[i]);
      i++; // the closing fence (or the end)
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      code.textContent = body.join("\n");
      pre.appendChild(code);
      out.appendChild(pre);
      continue;
    }
    const item = LIST_ITEM.exec(row);
    if (item) {
      const ordered = item[1] !== undefined;
      const list = doc.createElement(ordered ? "ol" : "ul");
      if (ordered && item[1] !== "1") list.setAttribute("start", String(parseInt(item[1], 10)));
      let current: string[] | null = null;
      const flush = () => {
        if (!current) return;
        const li = doc.createElement("li");
        lines(doc, current, li);
        list.appendChild(li);
      };
      for (; i < rows.length; i++) {
        const m = LIST_ITEM.exec(rows[i]);
        if (m && (m[1] !== undefined) === ordered) {
          flush();
          current = [m[2]];
        } else if (current && /^\s+\S/.test(rows[i]) && !m) {
          current.push(rows[i].trim()); // an indented continuation line
        } else break;
      }
      flush();
      out.appendChild(list);
      continue;
    }
    const heading = HEADING.exec(row);
    if (heading) {
      const p = doc.createElement("p");
      const strong = doc.createElement("strong");
      inline(doc, heading[1], strong, 0, true);
      p.appendChild(strong);
      out.appendChild(p);
      i++;
      continue;
    }
    const para: string[] = [];
    for (; i < rows.length; i++) {
      const r = rows[i];
      if (!r.trim() || FENCE.test(r) || LIST_ITEM.test(r) || HEADING.test(r)) break;
      para.push(r);
    }
    const p = doc.createElement("p");
    lines(doc, para, p);
    out.appendChild(p);
  }
  return out;
}
