"""The demo product's knowledge (data/demo: our own FAQ for a fictional bank, and its terms)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.settings import Settings
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobStatus
from backend.knowledge import service
from backend.knowledge.models import Document

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "demo"
DEMO_FILES = ("faq.jsonl", "terms-and-fees.md")


def queue_demo_knowledge(*, session: Session, settings: Settings, product_id: int) -> list[Job]:
    """Queue ingestion of the demo files once: not when documents exist or jobs are pending."""
    has_docs = session.exec(select(Document.id).where(Document.product_id == product_id)).first()
    pending = session.exec(
        select(Job.id).where(
            Job.product_id == product_id,
            Job.kind == JobKind.kb_ingest,
            col(Job.status).in_([JobStatus.queued, JobStatus.running]),
        )
    ).first()
    if has_docs is not None or pending is not None:
        return []
    jobs = []
    for name in DEMO_FILES:
        folder = service.staging_dir(settings)
        staged = folder / name
        shutil.copyfile(DEMO_DIR / name, staged)
        jobs.append(
            service.submit_ingest(
                session=session,
                settings=settings,
                product_id=product_id,
                path=staged,
                name=name,
                source_uri=None,
                user_id=None,
            )
        )
    return jobs
