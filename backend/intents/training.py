"""Training a product's intent model (torch): run by the worker's job handlers and the CLI.

Listing, activating and reading versions (no torch) is in ``versions``; the API imports only that.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlmodel import Session

from backend.core.db import utcnow
from backend.core.errors import InvalidInput
from backend.core.settings import Settings
from backend.intents.models import IntentModel
from backend.intents.versions import (
    Progress,
    active_model,
    data_hash,
    models_root,
    set_active,
    training_rows,
)
from ml.intent.data import DatasetError, clean_examples, require_trainable
from ml.intent.second_opinion import (
    SecondOpinionConfig,
    keep_validation_probs,
    train_with_second_opinion,
)
from ml.intent.train import TrainConfig, TrainResult, train_intent_model


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
        result = train_intent_model(
            texts, labels, out_dir, config=config, progress=progress, data_hash=data_hash
        )
        keep_validation_probs(result)  # a second opinion can be added later (add_second_opinion)
        return result
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


def train_product_model(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    max_epochs: int | None = None,
    activate: bool | None = None,
    progress: Progress | None = None,
    strategy: str = "auto",
    second_opinion: str | None = None,
    export_onnx: bool = True,
) -> IntentModel:
    """Train on the product's examples; activates the new model when ``activate`` is true, or
    when None and the product has no active model yet. ``strategy``: auto (frozen-encoder head
    for small data, full fine-tune otherwise), finetune or frozen_head. ``second_opinion``:
    its encoder (default: the setting; empty: the fast model alone). ``export_onnx=False``
    leaves the ONNX graph and its parity check to a later job (the demo's second stage)."""
    rows = training_rows(session=session, product_id=product_id)
    texts, labels, report = clean_examples(rows)
    try:
        require_trainable(report, min_classes=2, min_per_class=2)
    except DatasetError as exc:
        raise InvalidInput(f"cannot train: {exc}", code="untrainable_data") from None
    version = utcnow().strftime("%Y%m%dT%H%M%S")
    config = TrainConfig(
        base_model=settings.intent_base_model, strategy=strategy, export_onnx=export_onnx
    )
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
        second_opinion=second_opinion,
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
        set_active(session, product_id, model)
    session.commit()
    session.refresh(model)
    return model
