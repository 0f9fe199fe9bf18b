"""The demo product's intent examples: data/demo/intent_examples.csv (our own writing), plus
the question and alternative phrasings of every demo FAQ entry, labelled with the entry's
category (the intent it answers): 308 more ways to ask, and the FAQ stays their one source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from backend.core.settings import Settings
from backend.intents.importer import import_rows, read_rows
from backend.intents.models import IntentExample
from backend.intents.service import ensure_reserved
from backend.intents.versions import active_model
from backend.jobs import service as jobs
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobStatus
from ml.intent.artifact import read_manifest

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


def _pending(session: Session, product_id: int, kind: str, *states: JobStatus) -> list[Job]:
    return list(
        session.exec(
            select(Job).where(
                Job.product_id == product_id, Job.kind == kind, col(Job.status).in_(states)
            )
        ).all()
    )


def queue_demo_training(*, session: Session, settings: Settings, product_id: int) -> Job | None:
    """Queue training of the demo model in two stages when none is active and no training is
    pending: the fast model alone (serving within a minute or so), then a job adding the
    second opinion to it as a new version. When the active model is still the fast one and its
    second opinion never came (the run was stopped meanwhile), queue that second job again."""
    busy = (JobStatus.queued, JobStatus.running)
    active = active_model(session, product_id)
    if active is not None:
        if not settings.intent_second_opinion_model.strip() or _has_second_opinion(active.path):
            return None
        done = (*busy, JobStatus.succeeded)
        if any(
            j.params.get("version") == active.version
            for j in _pending(session, product_id, JobKind.intents_second_opinion, *done)
        ):
            return None
        params: dict[str, Any] = {"product_id": product_id, "version": active.version}
        return jobs.submit_job(
            session=session,
            kind=JobKind.intents_second_opinion,
            product_id=product_id,
            params=params,
        )
    if _pending(session, product_id, JobKind.intents_train, *busy):
        return None
    params = {
        "product_id": product_id,
        "strategy": settings.intent_demo_strategy,
        "activate": True,
        "second_opinion": "",  # the fast model first ...
        "then_second_opinion": True,  # ... then its second opinion, as a new version
        # serving shares the query embedder's vectors: the ONNX graph (a fallback, and its
        # parity check: seconds) can wait for the second stage, when there is one
        "export_onnx": not settings.intent_second_opinion_model.strip(),
    }
    return jobs.submit_job(
        session=session, kind=JobKind.intents_train, product_id=product_id, params=params
    )


def _has_second_opinion(model_dir: str) -> bool:
    try:
        return bool(read_manifest(Path(model_dir)).get("second_opinion"))
    except (OSError, ValueError):  # a missing or damaged folder: not ours to repair here
        return True
