"""The demo product's intent examples (data/demo/intent_examples.csv: our own writing)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.settings import Settings
from backend.intents.importer import import_examples
from backend.intents.models import IntentExample
from backend.intents.service import ensure_reserved
from backend.jobs import service as jobs
from backend.jobs.models import Job, JobStatus

DEMO_EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "demo" / "intent_examples.csv"


def load_demo_examples(*, session: Session, product_id: int) -> int:
    """Import the demo examples once (when the product has none); returns how many were added."""
    ensure_reserved(session=session, product_id=product_id)
    if session.exec(select(IntentExample.id).where(IntentExample.product_id == product_id)).first():
        return 0
    report = import_examples(
        session=session,
        product_id=product_id,
        path=DEMO_EXAMPLES,
        fmt="csv",
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
