"""Importing labelled examples (CSV or JSONL with ``text`` and ``intent``), streamed row by row
in one transaction: either the whole file is applied or nothing is."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlmodel import Session, select

from backend.core.errors import InvalidInput
from backend.intents.models import (
    MAX_EXAMPLE_CHARS,
    ImportReport,
    Intent,
    IntentExample,
    check_intent_name,
    normalize_text,
)
from backend.knowledge.parsing.faq import open_csv_records
from backend.knowledge.parsing.text import detect_file_encoding

TEXT_KEYS = ("text", "utterance", "example", "query", "question", "sentence")
INTENT_KEYS = ("intent", "label", "category", "class")
SAMPLES = 20
BATCH = 2000


def text_key(text: str) -> str:
    """The stored duplicate key of an example."""
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()


def _column(header: list[str], names: tuple[str, ...], what: str) -> int:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    raise InvalidInput(
        f"the file has no {what} column (found: {', '.join(header) or 'nothing'}); "
        f"expected one of: {', '.join(names)}",
        code="missing_columns",
    )


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, str, str]]:
    """(line, text, intent) of a CSV (header with text/intent columns) or JSONL file, lazily."""
    if fmt == "csv":
        records = open_csv_records(path)
        first = next(records, None)
        if first is None:
            raise InvalidInput("the file is empty", code="empty_file")
        header = first[1]
        t, i = _column(header, TEXT_KEYS, "text"), _column(header, INTENT_KEYS, "intent")
        for line, row in records:
            text = row[t] if t < len(row) else ""
            intent = row[i] if i < len(row) else ""
            yield line, text, intent
        return
    encoding = detect_file_encoding(path)
    with path.open(encoding=encoding) as fh:
        for line, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"line {line} is not valid JSON ({exc.msg})", code="invalid_row"
                ) from None
            if not isinstance(obj, dict):
                raise InvalidInput(f"line {line} is not a JSON object", code="invalid_row")
            found_text = next((obj[k] for k in TEXT_KEYS if k in obj), None)
            found_intent = next((obj[k] for k in INTENT_KEYS if k in obj), None)
            if found_text is None or found_intent is None:
                raise InvalidInput(
                    f"line {line} needs a 'text' and an 'intent' key", code="missing_columns"
                )
            yield line, str(found_text), str(found_intent)


def import_examples(
    *,
    session: Session,
    product_id: int,
    path: Path,
    fmt: str,
    create_missing: bool,
    source: str = "import",
    max_rows: int = 2_000_000,
) -> ImportReport:
    """Add the file's examples to the product; duplicates are skipped, conflicting labels are
    reported (the stored label wins), unknown intents are created or reported. One commit."""
    return import_rows(
        session=session,
        product_id=product_id,
        rows=read_rows(path, fmt),
        create_missing=create_missing,
        source=source,
        max_rows=max_rows,
    )


def import_rows(
    *,
    session: Session,
    product_id: int,
    rows: Iterable[tuple[int, str, str]],
    create_missing: bool,
    source: str = "import",
    max_rows: int = 2_000_000,
) -> ImportReport:
    """``import_examples`` for (line, text, intent) rows from any source. One commit."""
    intents = {
        i.name: i for i in session.exec(select(Intent).where(Intent.product_id == product_id))
    }
    known: dict[str, int] = {
        k: intent_id
        for k, intent_id in session.exec(
            select(IntentExample.text_key, IntentExample.intent_id).where(
                IntentExample.product_id == product_id
            )
        )
    }
    names = {i.id: n for n, i in intents.items()}
    report = ImportReport()
    pending: list[IntentExample] = []
    try:
        for line, raw_text, raw_intent in rows:
            report.rows += 1
            if report.rows > max_rows:
                raise InvalidInput(f"the file has more than {max_rows} rows", code="too_many_rows")
            text = " ".join(raw_text.split())
            if not text:
                report.empty += 1
                continue
            if len(text) > MAX_EXAMPLE_CHARS:
                text = text[:MAX_EXAMPLE_CHARS]
                if len(report.warnings) < SAMPLES:
                    report.warnings.append(
                        f"line {line}: text cut to {MAX_EXAMPLE_CHARS} characters"
                    )
            name = raw_intent.strip()
            intent = intents.get(name)
            if intent is None:
                try:
                    name = check_intent_name(name)
                except ValueError as exc:
                    raise InvalidInput(
                        f"line {line}: intent '{raw_intent}': {exc}", code="invalid_row"
                    ) from None
                if not create_missing:
                    report.unknown_intents[name] = report.unknown_intents.get(name, 0) + 1
                    continue
                intent = Intent(product_id=product_id, name=name)
                session.add(intent)
                session.flush()
                intents[name] = intent
                names[intent.id] = name
                report.created_intents.append(name)
            key = text_key(text)
            previous = known.get(key)
            if previous is not None:
                if previous == intent.id:
                    report.duplicates += 1
                else:
                    report.conflicts += 1
                    if len(report.conflict_samples) < SAMPLES:
                        report.conflict_samples.append(
                            f"line {line}: '{text[:80]}' is labelled '{name}' here but "
                            f"'{names.get(previous, '?')}' already"
                        )
                continue
            known[key] = intent.id or 0
            pending.append(
                IntentExample(
                    product_id=product_id,
                    intent_id=intent.id or 0,
                    text=text,
                    text_key=key,
                    source=source,
                )
            )
            report.added += 1
            if len(pending) >= BATCH:
                session.add_all(pending)
                session.flush()
                pending.clear()
        if report.rows == 0:
            raise InvalidInput("the file has no rows", code="empty_file")
        session.add_all(pending)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report
