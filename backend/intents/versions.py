"""A product's intent model versions without torch: training data, listing, activating, reports.

The API's routes and runtime use these; training itself (torch) is in ``training``, run by the
worker's job handlers and the CLI, so no API process imports torch to list or activate a model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.db import utcnow
from backend.core.errors import InvalidInput, NotFound
from backend.core.settings import Settings
from backend.intents.models import Intent, IntentExample, IntentModel

Progress = Callable[[float, str], None]


def models_root(settings: Settings, product_id: int) -> Path:
    """Where a product's intent model versions live."""
    return settings.data_dir / "models" / "intent" / str(product_id)


def training_rows(*, session: Session, product_id: int) -> list[tuple[str, str]]:
    """(text, intent) of every labelled example of the product, in a stable order."""
    rows = session.exec(
        select(IntentExample.text, Intent.name)
        .join(Intent, col(Intent.id) == col(IntentExample.intent_id))
        .where(IntentExample.product_id == product_id)
        .order_by(col(IntentExample.id))
    ).all()
    return [(t, n) for t, n in rows]


def data_hash(rows: list[tuple[str, str]]) -> str:
    """A hash of the training data (same examples, same hash)."""
    h = hashlib.sha256()
    for text, label in sorted(rows):
        h.update(f"{label}\t{text}\n".encode())
    return h.hexdigest()[:16]


def active_model(session: Session, product_id: int) -> IntentModel | None:
    """The product's active intent model, if any."""
    return session.exec(
        select(IntentModel).where(
            IntentModel.product_id == product_id, col(IntentModel.is_active).is_(True)
        )
    ).first()


def set_active(session: Session, product_id: int, model: IntentModel) -> None:
    """Make ``model`` the product's active one in this session (the caller commits)."""
    current = active_model(session, product_id)
    if current is not None and current.id != model.id:
        current.is_active = False
        session.add(current)
    if not model.is_active:  # pruning keeps the version active before this one
        model.activated_at = utcnow()
    model.is_active = True
    session.add(model)


def _require_version(session: Session, product_id: int, version: str) -> IntentModel:
    model = session.exec(
        select(IntentModel).where(
            IntentModel.product_id == product_id, IntentModel.version == version
        )
    ).first()
    if model is None:
        raise NotFound(f"intent model version '{version}' not found")
    return model


def activate_version(*, session: Session, product_id: int, version: str) -> IntentModel:
    """Make ``version`` the product's active model (every API process swaps within seconds)."""
    model = _require_version(session, product_id, version)
    if model.pruned_at is not None:
        raise InvalidInput(f"version '{version}' was pruned (its files are removed): retrain")
    if not Path(model.path).is_dir():
        raise InvalidInput(f"the files of version '{version}' are missing from {model.path}")
    set_active(session, product_id, model)
    session.commit()
    session.refresh(model)
    return model


def list_models(*, session: Session, product_id: int) -> list[IntentModel]:
    """The product's intent models, newest first."""
    return list(
        session.exec(
            select(IntentModel)
            .where(IntentModel.product_id == product_id)
            .order_by(col(IntentModel.id).desc())
        ).all()
    )


def model_report_file(*, session: Session, product_id: int, version: str, name: str) -> Path:
    """A file of the version's validation report (``report.json`` or ``reliability.png``)."""
    model = _require_version(session, product_id, version)
    path = Path(model.path) / "validation" / name
    if not path.is_file():
        raise NotFound(
            f"version '{version}' has no validation report (trained by an older release)"
        )
    return path
