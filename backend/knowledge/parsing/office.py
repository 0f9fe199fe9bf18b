"""PDF (pypdf) and Word .docx (python-docx) into headed sections.

Both libraries raise assorted exception types on malformed input (KeyError, ValueError,
struct errors...), so the calls into them are wrapped broadly and reported as a damaged file.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from backend.knowledge.parsing.sections import SectionBuilder, finish, tidy
from backend.knowledge.parsing.types import IngestError, IngestLimits, ParsedDocument, Section

log = logging.getLogger(__name__)

# A member this much bigger than its compressed size is a zip bomb, not a document.
MAX_COMPRESSION_RATIO = 100
# Below this size a high ratio is harmless (tiny, repetitive XML parts compress very well).
_RATIO_FLOOR_BYTES = 1024 * 1024
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.I)

_ENCRYPTED = (
    "This PDF is password-protected, so its text can't be read. Remove the password (for "
    "example: open it and 'Print to PDF', or use your PDF tool's 'remove security'), then "
    "upload it again."
)
_CORRUPT_PDF = (
    "This PDF is damaged or incomplete and can't be read. Open it in a PDF viewer and save "
    "a new copy, or export it again from the original document, then upload that."
)
_NO_TEXT_LAYER = (
    "This PDF has no text layer: its pages are images (probably a scan), so there is no text "
    "to add. Run it through OCR (text recognition) first, or upload the text in another format."
)
_CORRUPT_DOCX = (
    "This Word file is damaged or incomplete and can't be opened. Open it in Word, save it "
    "again as .docx, and upload the new copy."
)


def _clean(text: str) -> str:
    # Extracted PDF text can carry control characters (NULs, form feeds) between glyphs.
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def _open_pdf(path: Path) -> PdfReader:
    try:
        reader = PdfReader(path)
        # Many PDFs are encrypted only to restrict printing/editing: the empty user password
        # opens them.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise IngestError(_ENCRYPTED, code="encrypted_pdf")
        len(reader.pages)  # reads the page tree, where damaged files usually fail
    except IngestError:
        raise
    except DependencyError:
        raise IngestError(_ENCRYPTED, code="encrypted_pdf") from None
    except Exception as exc:
        log.info("unreadable PDF %s: %r", path.name, exc)
        raise IngestError(_CORRUPT_PDF, code="corrupt_file") from None
    return reader


def check_pdf(path: Path) -> None:
    """Open a PDF without extracting text: raises encrypted_pdf or corrupt_file like parse_pdf."""
    _open_pdf(path)


def _outline_paths(reader: PdfReader) -> dict[int, list[str]]:
    """Page index -> the bookmark path in force on that page (empty when no outline)."""
    marks: list[tuple[int, list[str]]] = []

    def walk(items: list[Any], parents: list[str], depth: int) -> None:
        last = parents
        for item in items:
            if isinstance(item, list):
                if depth < 6:
                    walk(item, last, depth + 1)  # children follow their parent entry
                continue
            title = " ".join(str(item.title or "").split())
            page = reader.get_destination_page_number(item)
            last = [*parents, title]
            if title and page is not None and page >= 0:
                marks.append((page, last))

    try:
        walk(list(reader.outline), [], 0)
    except Exception:  # a broken outline only costs us the nicer headings
        return {}
    marks.sort(key=lambda mark: mark[0])  # stable: outline order kept within a page
    paths: dict[int, list[str]] = {}
    current: list[str] = []
    index = 0
    for page in range(len(reader.pages)):
        while index < len(marks) and marks[index][0] <= page:
            current = marks[index][1]
            index += 1
        if current:
            paths[page] = current
    return paths


def parse_pdf(path: Path, *, title: str | None = None) -> ParsedDocument:
    """One section per page with text, headed by the bookmark path (if any) and "Page N".

    Raises ``IngestError`` with code encrypted_pdf, corrupt_file, or empty_file (no text layer).
    """
    reader = _open_pdf(path)
    outline = _outline_paths(reader)
    sections: list[Section] = []
    failed = 0
    for index, page in enumerate(reader.pages):
        try:
            text = tidy(_clean(page.extract_text() or ""))
        except Exception as exc:
            log.info("page %d of %s unreadable: %r", index + 1, path.name, exc)
            failed += 1
            continue
        if text.strip():
            sections.append(Section([*outline.get(index, []), f"Page {index + 1}"], text))
    if not sections:
        if failed:
            raise IngestError(_CORRUPT_PDF, code="corrupt_file")
        raise IngestError(_NO_TEXT_LAYER, code="empty_file")
    doc = finish("pdf", title or path.stem, sections)
    if failed:
        doc.warnings.append(f"{failed} page(s) could not be read and were left out.")
    return doc


def check_zip(path: Path, limits: IngestLimits) -> None:
    """Refuse damaged archives and zip bombs before anything inflates them.

    The declared sizes are enough: ``zipfile`` never inflates a member past its declared
    size (it stops there and fails the CRC check), so lying headers can't blow up memory.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise IngestError(_CORRUPT_DOCX, code="corrupt_file") from None
    bomb = IngestError(
        "This Word file expands to far more data than a real document would (it looks like a "
        "'zip bomb'), so it was refused. Save the document again from Word and upload that.",
        code="zip_bomb",
    )
    if sum(info.file_size for info in infos) > limits.max_uncompressed_bytes:
        raise bomb
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise bomb
    if "word/document.xml" not in {info.filename for info in infos}:
        raise IngestError(
            "This file is a ZIP archive but not a Word document (it has no document body). "
            "Upload a .docx saved from Word, LibreOffice or Google Docs.",
            code="unsupported_type",
        )


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for Title, N for Heading N (also through styles based on them), else None."""
    style: Any = paragraph.style
    for _ in range(4):
        if style is None:
            return None
        name = str(style.name or "").strip()
        if name.lower() == "title":
            return 0
        if match := _HEADING_STYLE.match(name):
            return int(match.group(1))
        style = style.base_style
    return None


def _table_lines(table: Table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return lines


def parse_docx(path: Path, limits: IngestLimits, *, title: str | None = None) -> ParsedDocument:
    """Word paragraphs and tables in document order; Title/Heading N styles build the path.

    Raises ``IngestError`` with code zip_bomb, corrupt_file, unsupported_type or empty_file.
    """
    check_zip(path, limits)
    builder = SectionBuilder()
    doc_title: str | None = None
    try:
        document = docx.Document(str(path))
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for line in _table_lines(block):
                    builder.line(line)
                builder.line("")
                continue
            text = block.text.strip()
            if not text:
                continue
            level = _heading_level(block)
            if level is None:
                style_name = str(getattr(block.style, "name", "") or "")
                builder.paragraph(f"- {text}" if style_name.startswith("List") else text)
                continue
            if level == 0 and doc_title is None:
                doc_title = text
            builder.heading(level, text)
    except Exception as exc:
        log.info("unreadable DOCX %s: %r", path.name, exc)
        raise IngestError(_CORRUPT_DOCX, code="corrupt_file") from None
    return finish("docx", doc_title or title or path.stem, builder.result(), what="Word document")
