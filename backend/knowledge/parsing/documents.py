"""Documents (Markdown, HTML, plain text; PDF and Word via ``office``) into headed sections."""

from __future__ import annotations

import codecs
import re

import trafilatura
from bs4 import BeautifulSoup
from bs4.element import NavigableString

from backend.knowledge.parsing.office import check_pdf, parse_docx, parse_pdf
from backend.knowledge.parsing.sections import SectionBuilder, finish, tidy
from backend.knowledge.parsing.text import decode_text
from backend.knowledge.parsing.types import ParsedDocument, Section

__all__ = [
    "check_pdf",
    "markdown_sections",
    "parse_docx",
    "parse_html",
    "parse_markdown",
    "parse_pdf",
    "parse_text",
]

# Documents are untrusted: every pattern here runs in linear time on any line. Headings and the
# front-matter title are cut with string operations, as their regexes (a lazy ``.*?`` before
# ``[ \t]*$``) backtracked quadratically on long runs of spaces.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-{2,})[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^( {4,}|\t| {0,3}([-*+>|]|\d+[.)])([ \t]|$))")
# A link's text and target stop at the next "[": a search from every "[" of a line full of
# them would otherwise scan to its end.
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^)\[]*\)")
_FRONT_KEY = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:")
_FRONT_TITLE_KEY = re.compile(r"title[ \t]*:[ \t]*", re.I)
_BLANKS = " \t"
_QUOTES = "\"'"


def _atx_heading(line: str) -> tuple[int, str] | None:
    """``(level, text)`` of an ATX heading line (``## Text ##``), else None.

    Up to 3 spaces, 1-6 ``#`` then a blank or the end; the text without its blanks and its
    closing ``#`` sequence (one preceded by a blank, or the whole text)."""
    indent = len(line) - len(line.lstrip(" "))
    rest = line[indent:]
    level = len(rest) - len(rest.lstrip("#"))
    if indent > 3 or not 1 <= level <= 6:
        return None
    rest = rest[level:]
    if rest and rest[0] not in _BLANKS:
        return None
    text = rest.strip(_BLANKS)
    unclosed = text.rstrip("#")
    if len(unclosed) < len(text) and (not unclosed or unclosed[-1] in _BLANKS):
        text = unclosed.rstrip(_BLANKS)
    return level, text


def _front_title(meta: str) -> str | None:
    """The value of the first ``title:`` line of front matter, without its quotes."""
    for line in meta.split("\n"):
        key = _FRONT_TITLE_KEY.match(line)
        if key is None:
            continue
        value = line[key.end() :]
        if value[:1] and value[0] in _QUOTES:
            value = value[1:]
        value = value.rstrip(_BLANKS)
        if value[-1:] and value[-1] in _QUOTES:
            value = value[:-1]
        return value.strip()
    return None


def _strip_anchor(text: str) -> str:
    """Without a trailing ``{#anchor}`` id (the first ``{#`` after the last other ``}``)."""
    end = len(text.rstrip())
    if not end or text[end - 1] != "}":
        return text
    start = text.find("{#", text.rfind("}", 0, end - 1) + 1, end - 1)
    return text if start < 0 else text[:start]


def _clean_heading(text: str) -> str:
    text = _strip_anchor(_LINK.sub(r"\1", text))
    return re.sub(r"(\*\*|__|`)", "", text).strip()


def _split_front_matter(text: str) -> tuple[str | None, str]:
    """YAML front matter (``---`` ... ``---`` at the top) is metadata, not content."""
    lines = text.split("\n", 200)
    if lines[0].strip() != "---" or len(lines) < 3 or not _FRONT_KEY.match(lines[1]):
        return None, text
    for i, line in enumerate(lines[1:200], 1):
        if line.strip() in {"---", "..."}:
            meta_title = _front_title("\n".join(lines[1:i]))
            return meta_title, text.split("\n", i + 1)[-1]
    return None, text


def markdown_sections(text: str) -> tuple[list[Section], str | None]:
    """Sections of Markdown text and its first level-1 heading (None when it has none).

    ATX (``#``) and setext (underlined) headings build the path; fenced code is kept verbatim
    and never read as headings.
    """
    builder = SectionBuilder()
    first_h1: str | None = None
    fence = ""
    # "start": the previous line opened a paragraph, so an underline makes it a heading.
    previous = "blank"
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if fence:
            builder.line(raw)
            closing = raw.strip()
            if len(closing) >= len(fence) and set(closing) == {fence[0]}:
                fence = ""
            continue
        if opened := _FENCE.match(raw):
            fence = opened.group(1)
            builder.line(raw)
            previous = "other"
            continue
        atx = _atx_heading(raw)
        setext = _SETEXT.match(raw) if previous == "start" else None
        if atx or setext:
            if atx:
                level, heading = atx[0], _clean_heading(atx[1])
            else:
                assert setext
                level = 1 if setext.group(1)[0] == "=" else 2
                heading = _clean_heading(builder.pop_line())
            first_h1 = first_h1 or (heading if level == 1 and heading else None)
            builder.heading(level, heading)
            previous = "other"
            continue
        builder.line(raw)
        if not raw.strip():
            previous = "blank"
        elif previous == "blank" and not _NOT_PARAGRAPH.match(raw):
            previous = "start"
        else:
            previous = "other"
    return builder.result(), first_h1


def parse_markdown(text: str, title: str) -> ParsedDocument:
    """Markdown into sections; the title is the front-matter title or first H1, else ``title``."""
    meta_title, body = _split_front_matter(text)
    sections, first_h1 = markdown_sections(body)
    return finish("markdown", meta_title or first_h1 or title, sections)


def parse_text(text: str, title: str) -> ParsedDocument:
    """Plain text: one section per paragraph (blank-line separated), no headings."""
    paragraphs = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    sections = [Section([], p) for p in (tidy(p) for p in paragraphs) if p.strip()]
    return finish("text", title, sections)


# --- HTML -------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*(?:["']\s*)?([\w.:-]+)""", re.I)
# Browsers read pages labelled Latin-1/ASCII as windows-1252 (WHATWG), and so do we.
_CHARSET_ALIASES = {"iso8859_1": "cp1252", "latin_1": "cp1252", "ascii": "cp1252"}
_NOISE = ["script", "style", "noscript", "template", "svg", "nav", "iframe", "footer", "aside"]
_BLOCKS = [
    "p", "div", "li", "tr", "section", "article", "main", "pre", "blockquote", "ul", "ol",
    "table", "dl", "dt", "dd", "header", "form", "figure", "figcaption",
]  # fmt: skip
_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_MARK = "\ue000"  # private-use character marking headings in the fallback's flattened text


def _decode_html(data: bytes) -> str:
    """The page's declared charset when it decodes cleanly, else detection."""
    match = _META_CHARSET.search(data[:4096])
    if match:
        try:
            name = codecs.lookup(match.group(1).decode("ascii")).name.replace("-", "_")
            return data.decode(_CHARSET_ALIASES.get(name, name)).lstrip("\ufeff")
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown label: let detection decide
    return decode_text(data)


def _html_title(soup: BeautifulSoup) -> str | None:
    for tag in (soup.title, soup.find("h1")):
        if tag is not None and (text := " ".join(tag.get_text(" ").split())):
            return text
    return None


def _fallback_sections(soup: BeautifulSoup) -> list[Section]:
    """Visible text with h1-h6 as headings, for pages trafilatura finds no main text in."""
    for tag in soup.find_all(_NOISE):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for tag in root.find_all(_HEADINGS):
        text = " ".join(tag.get_text(" ").split())
        tag.replace_with(NavigableString(f"\n\n{_MARK}{tag.name[1]}{_MARK}{text}\n\n"))
    for tag in root.find_all("br"):
        tag.replace_with(NavigableString("\n"))
    for tag in root.find_all(["td", "th"]):
        tag.append(NavigableString(" | "))
    for tag in root.find_all(_BLOCKS):
        if tag.name == "li":
            tag.insert(0, NavigableString("- "))
        tag.insert_before(NavigableString("\n\n"))
        tag.insert_after(NavigableString("\n\n"))
    builder = SectionBuilder()
    for line in root.get_text().split("\n"):
        line = " ".join(line.split()).strip(" |")
        if line.startswith(_MARK):
            _, level, heading = line.split(_MARK, 2)
            builder.heading(int(level), heading)
        else:
            builder.line(line)
    return builder.result()


def parse_html(data: bytes, title: str) -> ParsedDocument:
    """The main text of a page (trafilatura, as Markdown with headings) in sections.

    Navigation, scripts and boilerplate are dropped; when trafilatura finds no main text the
    page's visible text is used. The title is the page's <title>, else its first <h1>.
    """
    html = _decode_html(data)
    soup = BeautifulSoup(html, "lxml")
    page_title = _html_title(soup)
    markdown = trafilatura.extract(
        html,
        output_format="markdown",
        include_formatting=True,
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_recall=True,
    )
    sections = markdown_sections(markdown)[0] if markdown else []
    # On short pages trafilatura falls back to a baseline that keeps menus and loses headings;
    # our own pass (noise dropped, h1-h6 kept) is better whenever it finds headings.
    if not any(section.heading_path for section in sections):
        fallback = _fallback_sections(soup)
        if not sections or any(section.heading_path for section in fallback):
            sections = fallback
    return finish("html", page_title or title, sections, what="web page")
