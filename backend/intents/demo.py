"""The demo product's intent examples (data/demo/intent_examples.csv: our own writing)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from backend.intents.importer import import_examples
from backend.intents.models import IntentExample
from backend.intents.service import ensure_reserved

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
