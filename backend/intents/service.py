"""Intent and example operations (keyword-only; the only place that commits them)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.core.db import commit_or_conflict
from backend.core.errors import Conflict, InvalidInput, NotFound
from backend.intents.importer import read_rows, text_key
from backend.intents.models import (
    RESERVED_INTENTS,
    Intent,
    IntentCreate,
    IntentExample,
    IntentPublic,
    IntentUpdate,
)


def ensure_reserved(*, session: Session, product_id: int) -> None:
    """Create the reserved intents the answer policy relies on, where missing."""
    have = set(session.exec(select(Intent.name).where(Intent.product_id == product_id)).all())
    for name, description in RESERVED_INTENTS.items():
        if name not in have:
            session.add(
                Intent(product_id=product_id, name=name, description=description, reserved=True)
            )
    session.commit()


def list_intents(*, session: Session, product_id: int) -> list[IntentPublic]:
    """The product's intents with their example counts (reserved ones created on first use)."""
    ensure_reserved(session=session, product_id=product_id)
    counts = dict(
        session.exec(
            select(IntentExample.intent_id, func.count())
            .where(IntentExample.product_id == product_id)
            .group_by(col(IntentExample.intent_id))
        ).all()
    )
    rows = session.exec(
        select(Intent).where(Intent.product_id == product_id).order_by(col(Intent.name))
    )
    return [
        IntentPublic(**i.model_dump(exclude={"product_id"}), examples=counts.get(i.id or 0, 0))
        for i in rows
    ]


def get_intent(*, session: Session, product_id: int, intent_id: int) -> Intent:
    """An intent of this product, or NotFound."""
    intent = session.get(Intent, intent_id)
    if intent is None or intent.product_id != product_id:
        raise NotFound(f"intent {intent_id} not found")
    return intent


def create_intent(*, session: Session, product_id: int, data: IntentCreate) -> Intent:
    """A new intent; its name must be unused in the product."""
    intent = Intent(product_id=product_id, name=data.name, description=data.description)
    session.add(intent)
    commit_or_conflict(session, f"intent '{data.name}' already exists")
    session.refresh(intent)
    return intent


def update_intent(*, session: Session, intent: Intent, data: IntentUpdate) -> Intent:
    """Rename or describe an intent; reserved intents keep their names."""
    if data.name is not None and data.name != intent.name:
        if intent.reserved:
            raise InvalidInput(f"'{intent.name}' is reserved: the answer policy relies on its name")
        intent.name = data.name
    if data.description is not None:
        intent.description = data.description
    session.add(intent)
    commit_or_conflict(session, f"intent '{data.name}' already exists")
    session.refresh(intent)
    return intent


def delete_intent(*, session: Session, intent: Intent) -> None:
    """Delete an intent and its examples; reserved intents cannot be deleted."""
    if intent.reserved:
        raise InvalidInput(f"'{intent.name}' is reserved and cannot be deleted")
    session.delete(intent)
    session.commit()


def add_example(
    *, session: Session, intent: Intent, text: str, source: str = "manual"
) -> IntentExample:
    """Label one text with an intent; the same text cannot carry two labels."""
    clean = " ".join(text.split())
    if not clean:
        raise InvalidInput("the example text is empty")
    key = text_key(clean)
    existing = session.exec(
        select(IntentExample).where(
            IntentExample.product_id == intent.product_id, IntentExample.text_key == key
        )
    ).first()
    if existing is not None:
        other = session.get(Intent, existing.intent_id)
        where = (
            "this intent"
            if existing.intent_id == intent.id
            else f"intent '{other.name if other else '?'}'"
        )
        raise Conflict(f"this text is already an example of {where}", code="duplicate_example")
    example = IntentExample(
        product_id=intent.product_id,
        intent_id=intent.id or 0,
        text=clean,
        text_key=key,
        source=source,
    )
    session.add(example)
    session.commit()
    session.refresh(example)
    return example


def list_examples(
    *, session: Session, product_id: int, intent_id: int | None, offset: int, limit: int
) -> list[tuple[IntentExample, str]]:
    """Examples with their intent names, oldest first, optionally of one intent."""
    query = (
        select(IntentExample, Intent.name)
        .join(Intent, col(Intent.id) == col(IntentExample.intent_id))
        .where(IntentExample.product_id == product_id)
        .order_by(col(IntentExample.id))
        .offset(offset)
        .limit(limit)
    )
    if intent_id is not None:
        query = query.where(IntentExample.intent_id == intent_id)
    return [(e, n) for e, n in session.exec(query).all()]


def delete_example(*, session: Session, product_id: int, example_id: int) -> None:
    """Remove one example."""
    example = session.get(IntentExample, example_id)
    if example is None or example.product_id != product_id:
        raise NotFound(f"example {example_id} not found")
    session.delete(example)
    session.commit()


def import_format(filename: str) -> str:
    """``csv`` or ``jsonl`` from the file name."""
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    raise InvalidInput(
        'import CSV (text,intent) or JSONL ({"text", "intent"}) files', code="unsupported_type"
    )


def preflight_import(path: Path, fmt: str) -> None:
    """Read the first rows so a wrong header, format or encoding is refused before queuing."""
    rows = list(islice(read_rows(path, fmt), 5))
    if not rows:
        raise InvalidInput("the file has no rows", code="empty_file")


def export_examples(*, session: Session, product_id: int, fmt: str) -> Iterator[str]:
    """Every example as CSV (``text,intent``) or JSONL, streamed in pages."""
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput("format must be csv or jsonl")
    if fmt == "csv":
        yield "text,intent\r\n"
    offset = 0
    while True:
        page = list_examples(
            session=session, product_id=product_id, intent_id=None, offset=offset, limit=5000
        )
        if not page:
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        for example, name in page:
            if fmt == "csv":
                writer.writerow([example.text, name])
            else:
                buf.write(
                    json.dumps({"text": example.text, "intent": name}, ensure_ascii=False) + "\n"
                )
        yield buf.getvalue()
        offset += len(page)
