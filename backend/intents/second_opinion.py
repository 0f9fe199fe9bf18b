"""Adding the second opinion to a trained version, as a new version (keyword-only; commits here).

The demo model trains in two stages so that it serves within a minute of `make run`: the fast
model alone first, then this job adds the second opinion (minutes of mpnet on a CPU) to a copy
of it and activates the result, unless another version was activated meanwhile."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from backend.core.db import utcnow
from backend.core.errors import InvalidInput, NotFound
from backend.core.settings import Settings
from backend.intents.models import IntentModel
from backend.intents.versions import (
    Progress,
    activate_version,
    active_model,
    data_hash,
    models_root,
    training_rows,
)
from ml.intent.data import clean_examples
from ml.intent.second_opinion import SecondOpinionConfig, add_second_opinion


def add_second_opinion_version(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    version: str,
    activate: bool = True,
    progress: Progress | None = None,
) -> IntentModel:
    """A new version: ``version``'s fast model with a second opinion on the
    ``intent_second_opinion_model`` setting, trained on the same examples and split. Activated
    when ``activate`` and ``version`` is still the active one (or none is)."""
    encoder = settings.intent_second_opinion_model.strip()
    if not encoder:
        raise InvalidInput(
            "the second opinion is off (DESKPILOT_INTENT_SECOND_OPINION_MODEL is empty)",
            code="second_opinion_off",
        )
    base = session.exec(
        select(IntentModel).where(
            IntentModel.product_id == product_id, IntentModel.version == version
        )
    ).first()
    if base is None:
        raise NotFound(f"intent model version '{version}' not found")
    rows = training_rows(session=session, product_id=product_id)
    digest = data_hash(rows)
    if digest != base.data_hash:
        raise InvalidInput(
            f"the examples changed since version '{version}' was trained; train a new model",
            code="stale_version",
        )
    texts, labels, _ = clean_examples(rows)
    name = utcnow().strftime("%Y%m%dT%H%M%S")
    try:
        result = add_second_opinion(
            Path(base.path),
            texts,
            labels,
            models_root(settings, product_id) / name,
            second=SecondOpinionConfig(encoder, below=settings.intent_second_opinion_below),
            data_hash=digest,
            progress=progress,
        )
    except ValueError as exc:  # already has one, other examples: the caller's mistake
        raise InvalidInput(f"cannot add a second opinion: {exc}", code="invalid_version") from None
    model = IntentModel(
        product_id=product_id,
        version=name,
        path=str(result.model_dir.resolve()),
        base_model=base.base_model,
        data_hash=digest,
        n_examples=base.n_examples,
        n_intents=base.n_intents,
        temperature=base.temperature,
        threshold=base.threshold,
        metrics={k: float(v) for k, v in result.metrics.items()},
    )
    session.add(model)
    session.commit()
    session.refresh(model)
    current = active_model(session, product_id)
    if activate and (current is None or current.id == base.id):
        model = activate_version(session=session, product_id=product_id, version=name)
    return model
