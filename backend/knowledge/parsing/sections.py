"""The section builder every running-text format feeds: heading path + text between headings."""

from __future__ import annotations

import re

from backend.knowledge.parsing.types import IngestError, ParsedDocument, Section, SourceType

_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, no blank lines at the ends."""
    text = "\n".join(line.rstrip() for line in text.replace("\f", "\n").split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


class SectionBuilder:
    """Collects lines under the current heading path; a new heading closes the section."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._path: list[tuple[int, str]] = []
        self._lines: list[str] = []

    def heading(self, level: int, text: str) -> None:
        """Start a section under ``text``; it replaces headings of the same or lower rank."""
        text = " ".join(text.split())
        if not text:
            return
        self.flush()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))

    def line(self, text: str) -> None:
        self._lines.append(text)

    def pop_line(self) -> str:
        return self._lines.pop()

    def paragraph(self, text: str) -> None:
        self._lines += [text, ""]

    def flush(self) -> None:
        text = tidy("\n".join(self._lines))
        if text.strip():
            self.sections.append(Section([t for _, t in self._path], text))
        self._lines = []

    def result(self) -> list[Section]:
        self.flush()
        return self.sections


def finish(
    kind: SourceType, title: str, sections: list[Section], what: str = "file"
) -> ParsedDocument:
    """The parsed document, or ``empty_file`` when no text came out of it."""
    if not sections:
        raise IngestError(
            f"The {what} contains no readable text, so there is nothing to add to the knowledge.",
            code="empty_file",
        )
    return ParsedDocument(source_type=kind, title=title.strip() or "Untitled", sections=sections)
