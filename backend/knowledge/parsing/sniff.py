"""Deciding a file's type from its content; the extension only breaks ties between text formats.

Uploads lie about their type (a PDF saved as .csv, a screenshot renamed .pdf), so binary
formats are recognised by their magic bytes and anything else binary is refused here.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import PurePath

from backend.knowledge.parsing.faq_rows import looks_like_faq_header
from backend.knowledge.parsing.text import bad_encoding_error, bom_encoding, decode_head
from backend.knowledge.parsing.types import IngestError, SourceType

# How much of a file the sniffer looks at.
SNIFF_BYTES = 64 * 1024

SUPPORTED = "CSV, JSON or JSON Lines (FAQ files), Markdown, HTML, PDF, Word (.docx) or plain text"

# Known binary formats, to say what an unsupported upload actually is.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"WAVE", 8, "a WAV audio file"),
    (b"AVI ", 8, "an AVI video"),
    (b"ftyp", 4, "an MP4/MOV video or audio file"),
    (b"ID3", 0, "an MP3 audio file"),
    (b"OggS", 0, "an Ogg audio/video file"),
    (b"\x7fELF", 0, "a Linux program (ELF executable)"),
    (b"MZ", 0, "a Windows program (.exe/.dll)"),
    (b"\xcf\xfa\xed\xfe", 0, "a macOS program"),
    (b"\x1f\x8b", 0, "a gzip-compressed archive"),
    (b"BZh", 0, "a bzip2-compressed archive"),
    (b"\xfd7zXZ\x00", 0, "an xz-compressed archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!", 0, "a RAR archive"),
    (b"ustar", 257, "a tar archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "an old Microsoft Office file (.doc/.xls/.ppt)"),
    (b"SQLite format 3\x00", 0, "an SQLite database"),
    (b"\x00asm", 0, "a WebAssembly module"),
    (b"{\\rtf", 0, "an RTF document"),
)

_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_SETEXT = re.compile(r"^[^\s#>\-*+|].*\n {0,3}(=+|-+)[ \t]*$", re.MULTILINE)
_MD_FEATURES = (
    re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE),  # code fence
    re.compile(r"^ {0,3}([-*+]|\d+[.)])[ \t]+\S", re.MULTILINE),  # list item
    # Linear on hostile heads: a link's parts stop at the next "[", a bold span within 200
    # characters (from every "[" or "**" of a long line they scanned to its end: O(n²)).
    re.compile(r"\[[^\[\]\n]+\]\([^)\s\[]+\)"),  # link
    re.compile(r"(\*\*|__)\S[^\n]{0,200}?\S\1"),  # bold
    re.compile(r"^ {0,3}>[ \t]?\S", re.MULTILINE),  # block quote
)
# A comment ends at its first "-->" (as in browsers): with ".*?" a comment could also span the
# next ones, and a head of 30 comments took minutes (exponential backtracking).
_HTML_START = re.compile(r"^(?:<!--(?:[^-]|-(?!->))*-->\s*)*<(!doctype\s+html|html[\s>])", re.I)
_HTML_TAG = re.compile(
    r"<(head|body|div|p|meta|title|table|h[1-6]|section|article|span|ul)[\s>]", re.I
)
_JSON_START = re.compile(r'^(\[\s*([{\["\d\-\]]|true|false|null)|\{\s*["}])')
_HTML_EXT = {"html", "htm", "xhtml"}


def _unsupported(what: str, ext: str, hint: str = "") -> IngestError:
    subject = f"This '.{ext}' file" if ext else "This file"
    return IngestError(
        f"{subject} contains {what}, which can't be used as knowledge. "
        f"Supported formats: {SUPPORTED}.{hint}",
        code="unsupported_type",
    )


def _looks_binary(head: bytes) -> bool:
    """NUL bytes or many control bytes mean binary, except in BOM-marked UTF-16/32 text."""
    if not head or bom_encoding(head) in {"utf-16", "utf-32"}:
        return False
    sample = head[:8192]
    if b"\x00" in sample:
        # UTF-16 without a BOM: ASCII text has a NUL in every other byte.
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        half = max(1, len(sample) // 2)
        return not ((odd > 0.4 * half and even == 0) or (even > 0.4 * half and odd == 0))
    controls = sum(1 for b in sample if b < 9 or (13 < b < 32 and b != 27))
    return controls > len(sample) * 0.05


def _zip_kind(head: bytes, ext: str) -> SourceType:
    # Member names in local file headers are stored uncompressed, so they show in the head.
    if b"word/" in head:
        return "docx"
    if b"xl/" in head:
        raise _unsupported("an Excel workbook", ext, " Save the sheet as CSV to upload a FAQ.")
    if b"ppt/" in head:
        raise _unsupported("a PowerPoint presentation (.pptx)", ext)
    if b"mimetypeapplication/vnd.oasis.opendocument" in head:
        raise _unsupported("an OpenDocument file (LibreOffice/OpenOffice)", ext)
    if ext == "docx":
        return "docx"  # the body may come after large parts; the DOCX parser checks the zip
    raise _unsupported("a ZIP archive", ext)


def _binary_kind(head: bytes, ext: str) -> SourceType | None:
    """PDF/DOCX for binary files we read; raises for other binaries; None for text."""
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(head, ext)
    binary = _looks_binary(head)
    # Readers accept junk before the PDF header (within 1 KB), but text that merely
    # mentions "%PDF-" is not a PDF: a later header only counts in binary content.
    marker = head.find(b"%PDF-", 0, 1024)
    if marker == 0 or (marker > 0 and (binary or not head[:marker].strip())):
        return "pdf"
    for magic, offset, what in _MAGIC:
        # Short or deep magics also occur in text, so they only count for binary content.
        strong = len(magic) >= 4 and offset <= 8
        if head[offset : offset + len(magic)] == magic and (binary or strong):
            raise _unsupported(what, ext)
    if binary:
        raise _unsupported("binary data of an unknown kind", ext)
    return None


def _jsonl_lines(text: str) -> int:
    """How many lines are JSON objects, or 0 unless every non-empty line is one."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and not text.endswith("\n") and len(lines) > 1:
        lines = lines[:-1]  # the sniffed head may end mid-line
    for line in lines:
        try:
            if not isinstance(json.loads(line), dict):
                return 0
        except ValueError:
            return 0
    return len(lines)


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list | dict)
    except ValueError:
        return False


def _first_records(text: str, delimiter: str, count: int = 20) -> list[list[str]]:
    lines = text.splitlines()[:-1] or text.splitlines()  # drop a possibly cut last line
    try:
        rows = list(csv.reader(lines[: count * 4], delimiter=delimiter))
    except csv.Error:
        return []
    return [r for r in rows if any(c.strip() for c in r)][:count]


def _faq_header(text: str) -> bool:
    """The first line names a question and an answer column (comma, semicolon or tab)."""
    return any(
        (records := _first_records(text, d, count=1)) and looks_like_faq_header(records[0])
        for d in ",;\t"
    )


def _delimited(text: str) -> bool:
    """Five or more lines with the same number of tabs, or of 2+ commas/semicolons."""
    for delimiter in ",;\t":
        records = _first_records(text, delimiter)
        widths = {len(r) for r in records}
        columns = min(widths, default=0)
        if len(records) >= 5 and len(widths) == 1 and columns >= (2 if delimiter == "\t" else 3):
            return True
    return False


def _is_markdown(text: str) -> bool:
    if _ATX.search(text) or _SETEXT.search(text):
        return True
    return sum(1 for pattern in _MD_FEATURES if pattern.search(text)) >= 2


def _text_kind(text: str, ext: str) -> SourceType:
    body = text.lstrip("\ufeff \t\r\n")
    # Strong content signals win over any extension.
    if body[:1] in "[{":
        if _is_json(body) or (body.startswith("[") and _JSON_START.match(body)):
            return "json"
        if _jsonl_lines(body) >= 2:
            return "jsonl"
    if _HTML_START.match(body) or (body.startswith("<?xml") and "<html" in body[:2048].lower()):
        return "html"
    if _faq_header(body):
        return "csv"
    # The extension decides between plausible text formats.
    if ext in {"jsonl", "ndjson"} and body.startswith("{"):
        return "jsonl"
    if ext == "json" and _JSON_START.match(body):
        return "json"
    if ext in {"csv", "tsv"}:
        return "csv"
    if ext in _HTML_EXT and "<" in body:
        return "html"
    if ext in {"md", "markdown"}:
        return "markdown"
    # Weaker content signals.
    if body.startswith("<") and _HTML_TAG.search(body[:4096]):
        return "html"
    if _JSON_START.match(body):
        return "json"  # e.g. a JSON file longer than the sniffed head
    if _is_markdown(body):
        return "markdown"
    if _delimited(body):
        return "csv"
    return "text"


def sniff_type(head: bytes, filename: str) -> SourceType:
    """The source type of a file from its first bytes (up to ``SNIFF_BYTES``) and its name.

    Raises ``IngestError(code="unsupported_type")`` for binary content other than PDF/DOCX,
    naming what was detected.
    """
    ext = PurePath(filename).suffix.lower().lstrip(".")
    kind = _binary_kind(head, ext)
    if kind is not None:
        return kind
    text = decode_head(head)
    if text is None:
        raise bad_encoding_error()  # text-like bytes that no known encoding reads
    return _text_kind(text, ext)
