"""The demo product's intent examples: data/demo/intent_examples.csv (our own writing), plus
the question and alternative phrasings of every demo FAQ entry, labelled with the entry's
category (the intent it answers): 308 more ways to ask, and the FAQ stays their one source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.settings import Settings
from backend.intents.importer import import_rows, read_rows
from backend.intents.models import IntentExample
from backend.intents.service import ensure_reserved
from backend.jobs import service as jobs
from backend.jobs.models import Job, JobStatus

DEMO_EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "demo" / "intent_examples.csv"
DEMO_FAQ = DEMO_EXAMPLES.with_name("faq.jsonl")


def faq_question_rows(path: Path = DEMO_FAQ) -> Iterator[tuple[int, str, str]]:
    """(line, text, intent) for the question and each alternative of every FAQ entry."""
    with path.open(encoding="utf-8") as fh:
        for line, raw in enumerate(fh, 1):
            if raw.strip():
                entry = json.loads(raw)
                for text in [entry["question"], *entry.get("alternatives", [])]:
                    yield line, text, entry["category"]


def load_demo_examples(*, session: Session, product_id: int) -> int:
    """Import the demo examples once (when the product has none); returns how many were added."""
    ensure_reserved(session=session, product_id=product_id)
    if session.exec(select(IntentExample.id).where(IntentExample.product_id == product_id)).first():
        return 0
    report = import_rows(
        session=session,
        product_id=product_id,
        rows=chain(read_rows(DEMO_EXAMPLES, "csv"), faq_question_rows()),
        create_missing=True,
        source="demo",
    )
    return report.added


def queue_demo_training(*, session: Session, settings: Settings, product_id: int) -> Job | None:
    """Queue training of the demo model when none is active and no training is pending."""
    from backend.intents.handlers import TRAIN
    from backend.intents.training import active_model

    if active_model(session, product_id) is not None:
        return None
    pending = session.exec(
        select(Job.id).where(
            Job.product_id == product_id,
            Job.kind == TRAIN,
            col(Job.status).in_([JobStatus.queued, JobStatus.running]),
        )
    ).first()
    if pending is not None:
        return None
    params = {
        "product_id": product_id,
        "strategy": settings.intent_demo_strategy,
        "activate": True,
    }
    return jobs.submit_job(session=session, kind=TRAIN, product_id=product_id, params=params)
