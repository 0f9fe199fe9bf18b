"""What parsers produce, the limits they enforce and the one error type they raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from backend.core.errors import DeskpilotError

SourceType = Literal["csv", "json", "jsonl", "markdown", "html", "pdf", "docx", "text"]


class IngestError(DeskpilotError):
    """Bad input for ingestion; ``code`` says which kind, ``message`` says what to fix.

    Codes: empty_file, file_too_large, unsupported_type, corrupt_file, encrypted_pdf,
    missing_columns, bad_encoding, too_many_rows, invalid_row, zip_bomb, url_forbidden,
    url_fetch_failed, url_too_large, url_timeout.
    """

    status_code = 422
    code = "invalid_document"


class FileTooLarge(IngestError):
    status_code = 413
    code = "file_too_large"


@dataclass(frozen=True)
class IngestLimits:
    """Limits on what one ingestion accepts (settings feed these)."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 200_000
    fetch_timeout_s: float = 10.0
    allow_private_urls: bool = False
    max_redirects: int = 5
    # DOCX is a zip: refuse archives that inflate beyond this (zip bombs).
    max_uncompressed_bytes: int = 200 * 1024 * 1024


@dataclass
class FaqEntry:
    """One FAQ unit: a question with its approved answer (kept whole as one chunk)."""

    question: str
    answer: str
    alternatives: list[str] = field(default_factory=list)  # at most 3 other phrasings
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    external_id: str | None = None  # the source's own id column, when present


@dataclass
class Section:
    """A block of running text under a heading path (["Terms and fees", "Cards"])."""

    heading_path: list[str]
    text: str


@dataclass
class ParsedDocument:
    """A parsed upload: FAQ entries (csv/json/jsonl) or ordered sections (everything else)."""

    source_type: SourceType
    title: str
    faq: list[FaqEntry] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def is_faq(self) -> bool:
        """True for FAQ files (entries stay whole; no splitting)."""
        return bool(self.faq)
