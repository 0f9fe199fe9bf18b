import { describe, expect, it } from "vitest";
import { renderMarkdown, safeUrl } from "../src/markdown";

function html(md: string): string {
  const div = document.createElement("div");
  div.appendChild(renderMarkdown(md));
  return div.innerHTML;
}

function tags(md: string): string[] {
  const div = document.createElement("div");
  div.appendChild(renderMarkdown(md));
  return Array.from(div.querySelectorAll("*"), (e) => e.tagName.toLowerCase());
}

describe("renderMarkdown", () => {
  it("renders paragraphs and line breaks", () => {
    expect(html("one\ntwo\n\nthree")).toBe("<p>one<br>two</p><p>three</p>");
  });

  it("renders bold, italic, code, nested", () => {
    expect(html("**bold** and *it* and `a<b>` and **bold *both***")).toBe(
      "<p><strong>bold</strong> and <em>it</em> and <code>a&lt;b&gt;</code> and <strong>bold <em>both</em></strong></p>",
    );
  });

  it("renders lists, ordered with start, and continuation lines", () => {
    expect(html("Steps:\n1. Open\n2. Tap\n   more\n\n- a\n* b")).toBe(
      "<p>Steps:</p><ol><li>Open</li><li>Tap<br>more</li></ol><ul><li>a</li><li>b</li></ul>",
    );
    expect(html("3. three\n4. four")).toBe('<ol start="3"><li>three</li><li>four</li></ol>');
  });

  it("renders fenced code as text and headings as bold lines", () => {
    expect(html("```\n<b>x</b>\n**y**\n```\n# Title")).toBe(
      "<pre><code>&lt;b&gt;x&lt;/b&gt;\n**y**</code></pre><p><strong>Title</strong></p>",
    );
  });

  it("keeps safe links with rel and target, and auto-links bare URLs without trailing punctuation", () => {
    const div = document.createElement("div");
    div.appendChild(renderMarkdown("See [the FAQ](https://bank.example/faq?a=1) or https://bank.example/x. Mail mailto:help@bank.example"));
    const links = Array.from(div.querySelectorAll("a"));
    expect(links.map((a) => a.getAttribute("href"))).toEqual([
      "https://bank.example/faq?a=1",
      "https://bank.example/x",
      "mailto:help@bank.example",
    ]);
    for (const a of links) {
      expect(a.getAttribute("rel")).toBe("noopener noreferrer");
      expect(a.getAttribute("target")).toBe("_blank");
    }
    expect(div.textContent).toContain("https://bank.example/x. Mail");
  });

  it("renders javascript:, data: and relative links as their label only", () => {
    for (const href of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>", "/relative", "java\tscript:alert(1)"]) {
      const div = document.createElement("div");
      div.appendChild(renderMarkdown(`[click](${href})`));
      expect(div.querySelector("a")).toBeNull();
      expect(div.textContent).toContain("click");
    }
  });

  it("renders HTML as inert text", () => {
    const payload = `<img src=x onerror="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">x</a>`;
    const div = document.createElement("div");
    div.appendChild(renderMarkdown(payload));
    expect(div.textContent).toBe(payload);
    expect(div.querySelectorAll("img,script,a").length).toBe(0);
  });

  it("only ever creates allowed elements", () => {
    const md = "# h\n**b** *i* `c` [l](https://x.example) [1]\n- a\n1. b\n```\nx\n```";
    const allowed = new Set(["p", "br", "strong", "em", "code", "a", "span", "ul", "ol", "li", "pre"]);
    expect(tags(md).every((t) => allowed.has(t))).toBe(true);
  });

  it("marks citations", () => {
    const div = document.createElement("div");
    div.appendChild(renderMarkdown("Cards arrive in 5 days [1][2]."));
    expect(Array.from(div.querySelectorAll(".cite"), (e) => e.textContent)).toEqual(["[1]", "[2]"]);
  });

  it("keeps RTL text, emoji and unclosed markers as text", () => {
    expect(html("مرحبا 👋 **open")).toBe("<p>مرحبا 👋 **open</p>");
  });
});

describe("safeUrl", () => {
  it("allows http(s) and mailto only", () => {
    expect(safeUrl("https://a.example/p")).toBe("https://a.example/p");
    expect(safeUrl("http://a.example")).toBe("http://a.example/");
    expect(safeUrl("mailto:x@y.example")).toBe("mailto:x@y.example");
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("vbscript:x")).toBeNull();
    expect(safeUrl("//evil.example")).toBeNull();
    expect(safeUrl("https://a.example/\u0000")).toBeNull();
  });
});
