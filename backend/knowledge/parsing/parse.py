"""The ingestion entry point: size and emptiness checks, content sniffing, then the parser."""

from __future__ import annotations

from pathlib import Path, PurePath

from backend.knowledge.parsing.documents import (
    parse_docx,
    parse_html,
    parse_markdown,
    parse_pdf,
    parse_text,
)
from backend.knowledge.parsing.faq import parse_faq_csv, parse_faq_json, parse_faq_jsonl
from backend.knowledge.parsing.sniff import SNIFF_BYTES, sniff_type
from backend.knowledge.parsing.text import decode_text
from backend.knowledge.parsing.types import FileTooLarge, IngestError, IngestLimits, ParsedDocument

_WHITESPACE = b" \t\r\n\x0b\x0c"
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _empty() -> IngestError:
    return IngestError(
        "The file is empty (it contains no text), so there is nothing to add to the knowledge.",
        code="empty_file",
    )


def _blank(path: Path, head: bytes) -> bool:
    """True when the file holds nothing but whitespace (and maybe a byte-order mark)."""
    for bom in _BOMS:
        head = head.removeprefix(bom)
    if head.strip(_WHITESPACE):
        return False
    with path.open("rb") as handle:
        handle.seek(SNIFF_BYTES)
        while chunk := handle.read(1024 * 1024):
            if chunk.strip(_WHITESPACE):
                return False
    return True


def default_title(filename: str) -> str:
    """The file name without its folder and extension ("Returns policy.pdf" -> "Returns policy")."""
    name = PurePath(filename.replace("\\", "/")).name
    return PurePath(name).stem.strip() or name or "Untitled"


def parse_file(path: Path, filename: str, limits: IngestLimits) -> ParsedDocument:
    """Parse an uploaded file into FAQ entries or sections, deciding its type from its content.

    ``filename`` is the name the user gave it (its extension is only a hint). Raises
    ``FileTooLarge`` or ``IngestError`` (see ``IngestError`` for the codes).
    """
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise FileTooLarge(
            f"The file is {_mb(size)} MB, which is more than the {_mb(limits.max_bytes)} MB "
            "limit for one upload. Split it into smaller files and upload them separately."
        )
    if size == 0:
        raise _empty()
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if _blank(path, head):
        raise _empty()
    kind = sniff_type(head, filename)
    title = default_title(filename)
    match kind:
        case "csv":
            return parse_faq_csv(path, limits, title=title)
        case "json":
            return parse_faq_json(path, limits, title=title)
        case "jsonl":
            return parse_faq_jsonl(path, limits, title=title)
        case "pdf":
            return parse_pdf(path, title=title)
        case "docx":
            return parse_docx(path, limits, title=title)
        case "html":
            return parse_html(path.read_bytes(), title)
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise _empty()
    if kind == "markdown":
        return parse_markdown(text, title)
    return parse_text(text, title)
