"""Training, listing and activating a product's intent models (keyword-only; commits here)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.db import utcnow
from backend.core.errors import InvalidInput, NotFound
from backend.core.settings import Settings
from backend.intents.models import Intent, IntentExample, IntentModel
from ml.intent.data import DatasetError, clean_examples, require_trainable
from ml.intent.second_opinion import SecondOpinionConfig, train_with_second_opinion
from ml.intent.train import TrainConfig, TrainResult, train_intent_model

Progress = Callable[[float, str], None]


def models_root(settings: Settings, product_id: int) -> Path:
    """Where a product's intent model versions live."""
    return settings.data_dir / "models" / "intent" / str(product_id)


def train_model_folder(
    texts: list[str],
    labels: list[str],
    out_dir: Path,
    *,
    settings: Settings,
    config: TrainConfig,
    progress: Progress | None = None,
    data_hash: str = "",
    second_opinion: str | None = None,
) -> TrainResult:
    """Train a model folder, with a second opinion on ``second_opinion`` (default: the
    ``intent_second_opinion_model`` setting; empty: none) consulted below the
    ``intent_second_opinion_below`` confidence."""
    model = settings.intent_second_opinion_model if second_opinion is None else second_opinion
    if not model.strip():
        return train_intent_model(
            texts, labels, out_dir, config=config, progress=progress, data_hash=data_hash
        )
    second = SecondOpinionConfig(model=model, below=settings.intent_second_opinion_below)
    return train_with_second_opinion(
        texts,
        labels,
        out_dir,
        second=second,
        config=config,
        progress=progress,
        data_hash=data_hash,
    )


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


def train_product_model(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    max_epochs: int | None = None,
    activate: bool | None = None,
    progress: Progress | None = None,
    strategy: str = "auto",
) -> IntentModel:
    """Train on the product's examples; activates the new model when ``activate`` is true, or
    when None and the product has no active model yet. ``strategy``: auto (frozen-encoder head
    for small data, full fine-tune otherwise), finetune or frozen_head."""
    rows = training_rows(session=session, product_id=product_id)
    texts, labels, report = clean_examples(rows)
    try:
        require_trainable(report, min_classes=2, min_per_class=2)
    except DatasetError as exc:
        raise InvalidInput(f"cannot train: {exc}", code="untrainable_data") from None
    version = utcnow().strftime("%Y%m%dT%H%M%S")
    config = TrainConfig(base_model=settings.intent_base_model, strategy=strategy)
    if max_epochs is not None:
        config = replace(config, max_epochs=max_epochs)
    digest = data_hash(rows)
    result = train_model_folder(
        texts,
        labels,
        models_root(settings, product_id) / version,
        settings=settings,
        config=config,
        progress=progress,
        data_hash=digest,
    )
    model = IntentModel(
        product_id=product_id,
        version=version,
        path=str(result.model_dir.resolve()),
        base_model=settings.intent_base_model,
        data_hash=digest,
        n_examples=len(texts),
        n_intents=len(result.labels),
        temperature=result.temperature,
        threshold=result.threshold,
        metrics={k: float(v) for k, v in result.metrics.items()},
    )
    session.add(model)
    if activate or (activate is None and active_model(session, product_id) is None):
        _switch(session, product_id, model)
    session.commit()
    session.refresh(model)
    return model


def _switch(session: Session, product_id: int, model: IntentModel) -> None:
    current = active_model(session, product_id)
    if current is not None and current.id != model.id:
        current.is_active = False
        session.add(current)
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
    if not Path(model.path).is_dir():
        raise InvalidInput(f"the files of version '{version}' are missing from {model.path}")
    _switch(session, product_id, model)
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
