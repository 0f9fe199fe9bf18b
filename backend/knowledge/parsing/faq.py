"""FAQ files (CSV, JSON, JSONL) into ``FaqEntry`` lists, one question/answer pair per row.

Column names are matched case-insensitively with common aliases; rows without a question or an
answer are skipped with a warning rather than failing the whole upload.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

from backend.knowledge.parsing.faq_rows import (
    Columns,
    ObjectRows,
    Warnings,
    missing_columns,
    normalize_key,
    row_entry,
    too_many_rows,
)
from backend.knowledge.parsing.text import bad_encoding_error, decode_text, detect_file_encoding
from backend.knowledge.parsing.types import (
    FaqEntry,
    IngestError,
    IngestLimits,
    ParsedDocument,
    SourceType,
)

__all__ = ["parse_faq_csv", "parse_faq_json", "parse_faq_jsonl"]

_JSON_LIST_KEYS = ("entries", "faq", "faqs", "items")
_CSV_DELIMITERS = ",;\t"
SNIFF_CHARS = 32 * 1024  # text the delimiter is guessed from


def _finish(
    kind: SourceType, title: str, entries: list[FaqEntry], warn: Warnings, rows: int
) -> ParsedDocument:
    if not entries:
        if rows == 0:
            message = "The file has column names but no question/answer rows below them."
        else:
            first = " ".join(warn.lines[:3])
            message = f"None of the {rows} rows has both a question and an answer. {first}"
        raise IngestError(message.strip(), code="empty_file")
    return ParsedDocument(source_type=kind, title=title, faq=entries, warnings=warn.result(rows))


def _pick_delimiter(sample: str) -> str:
    """Comma, semicolon or tab: csv.Sniffer first, else the one the header line uses most."""
    lines = sample.splitlines()
    if len(lines) > 1:  # the last line of a sample may be cut short
        lines = lines[:-1]
    header = next((line for line in lines if line.strip()), "")
    if header.lower().startswith("sep=") and len(header.strip()) == 5:
        return header.strip()[4]  # Excel's "sep=;" first line names the delimiter
    try:
        found = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=_CSV_DELIMITERS).delimiter
    except csv.Error:
        found = ""
    if found and found in header:
        return found
    counts = {d: header.count(d) for d in _CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


_Rows = Generator[tuple[int, list[str]], None, None]


def _csv_rows(path: Path, encoding: str, delimiter: str) -> _Rows:
    """Non-blank records with their row number as a spreadsheet shows it, read lazily."""
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            for number, row in enumerate(reader, 1):
                if any(cell.strip() for cell in row):
                    yield number, row
        except UnicodeDecodeError:
            raise bad_encoding_error(
                f"Near line {reader.line_num + 1} the file has characters that don't match "
                f"the encoding of its beginning ({encoding})."
            ) from None
        except csv.Error as exc:
            problem = (
                "has a field that is far too long"
                if "field limit" in str(exc)
                else (f"can't be read as CSV ({exc})")
            )
            raise IngestError(
                f"Line {reader.line_num} {problem}. This usually means a quotation mark that "
                "is never closed; fix that line and upload again.",
                code="invalid_row",
            ) from None


def parse_faq_csv(path: Path, limits: IngestLimits, *, title: str | None = None) -> ParsedDocument:
    """Stream a CSV/TSV FAQ: detect encoding and delimiter from the start, then row by row.

    Raises ``IngestError`` with code missing_columns, too_many_rows, empty_file, bad_encoding
    or invalid_row.
    """
    encoding = detect_file_encoding(path)
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        delimiter = _pick_delimiter(handle.read(SNIFF_CHARS))
    rows = _csv_rows(path, encoding, delimiter)
    header = next(rows, None)
    if header and delimiter.join(header[1]).strip().lower() == f"sep={delimiter}":
        header = next(rows, None)
    if header is None:
        raise IngestError("The file contains no rows.", code="empty_file")
    cols = Columns.resolve(header[1])
    if not cols.complete:
        raise missing_columns(header[1])
    entries: list[FaqEntry] = []
    warn = Warnings()
    count = 0
    for number, row in rows:
        count += 1
        if count > limits.max_rows:
            rows.close()
            raise too_many_rows(limits)
        entry = row_entry(row, cols, f"Row {number}", warn)
        if entry is not None:
            entries.append(entry)
    return _finish("csv", title or path.stem, entries, warn, count)


def _json_items(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        lowered = {normalize_key(str(k)): v for k, v in doc.items()}
        for key in _JSON_LIST_KEYS:
            if isinstance(lowered.get(key), list):
                return list(lowered[key])
        if Columns.resolve(list(lowered)).complete:
            return [doc]  # a single entry
        keys = ", ".join(f"'{k}'" for k in list(doc)[:20]) or "none"
        found = f"an object with the keys {keys}"
    else:
        found = f"a single {type(doc).__name__} value"
    raise IngestError(
        "The JSON file must be a list of objects with a question and an answer, or an object "
        f"with an 'entries', 'faq' or 'items' list of them; this file contains {found}.",
        code="missing_columns",
    )


def parse_faq_json(path: Path, limits: IngestLimits, *, title: str | None = None) -> ParsedDocument:
    """A JSON array of entries, or an object holding one under entries/faq/items."""
    text = decode_text(path.read_bytes())
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Check it with a JSON validator, or upload the FAQ as CSV.",
            code="corrupt_file",
        ) from None
    items = _json_items(doc)
    if len(items) > limits.max_rows:
        raise too_many_rows(limits)
    objects = ObjectRows()
    warn = Warnings()
    entries = [
        e for i, item in enumerate(items, 1) if (e := objects.entry(item, f"Item {i}", warn))
    ]
    objects.check_columns(entries)
    return _finish("json", title or path.stem, entries, warn, len(items))


def parse_faq_jsonl(
    path: Path, limits: IngestLimits, *, title: str | None = None
) -> ParsedDocument:
    """JSON Lines: one entry object per line, streamed; bad lines are skipped with a warning."""
    encoding = detect_file_encoding(path)
    objects = ObjectRows()
    warn = Warnings()
    entries: list[FaqEntry] = []
    count = 0
    with path.open(encoding=encoding) as handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                count += 1
                if count > limits.max_rows:
                    raise too_many_rows(limits)
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    warn.skip(f"Line {number}: skipped because it is not valid JSON ({exc.msg}).")
                    continue
                if entry := objects.entry(item, f"Line {number}", warn):
                    entries.append(entry)
        except UnicodeDecodeError:
            raise bad_encoding_error(
                f"The file has characters that don't match the encoding of its beginning "
                f"({encoding})."
            ) from None
    objects.check_columns(entries)
    return _finish("jsonl", title or path.stem, entries, warn, count)


def open_csv_records(path: Path) -> _Rows:
    """(row number, cells) of any CSV file, encoding and delimiter detected, read lazily."""
    encoding = detect_file_encoding(path)
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(64 * 1024)
    return _csv_rows(path, encoding, _pick_delimiter(sample))
