"""Intent jobs: importing a staged examples file, training a model, adding a second opinion."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from backend.core.settings import get_settings
from backend.intents.importer import import_examples
from backend.intents.pruning import prune_after_training
from backend.intents.second_opinion import add_second_opinion_version
from backend.intents.service import ensure_reserved
from backend.intents.training import train_product_model
from backend.jobs.kinds import JobKind
from backend.jobs.registry import JobContext, register
from backend.jobs.service import submit_job

IMPORT = JobKind.intents_import
TRAIN = JobKind.intents_train
SECOND_OPINION = JobKind.intents_second_opinion


@register(IMPORT)
def import_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Import examples from the staged file (one transaction); the report is the job's result."""
    staged = Path(params["staged_path"])
    try:
        ctx.progress(5, "importing")
        with ctx.session() as session:
            ensure_reserved(session=session, product_id=int(params["product_id"]))
            report = import_examples(
                session=session,
                product_id=int(params["product_id"]),
                path=staged,
                fmt=str(params["format"]),
                create_missing=bool(params.get("create_missing", False)),
            )
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)
    return report.model_dump()


@register(TRAIN)
def train_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Train the product's intent model (progress with loss and ETA); result: version, metrics.
    ``second_opinion``: its encoder ("" for the fast model alone; default: the setting);
    ``then_second_opinion``: afterwards, queue a job adding it to the new version;
    ``export_onnx`` (default true): false leaves the ONNX graph to that job."""
    epochs = params.get("max_epochs")
    second = params.get("second_opinion")
    settings = get_settings()
    with ctx.session() as session:
        model = train_product_model(
            session=session,
            settings=settings,
            product_id=int(params["product_id"]),
            max_epochs=int(epochs) if epochs else None,
            activate=params.get("activate"),
            strategy=str(params.get("strategy") or "auto"),
            progress=lambda f, m: ctx.progress(100 * f, m),
            second_opinion=None if second is None else str(second),
            export_onnx=bool(params.get("export_onnx", True)),
        )
        result: dict[str, Any] = {
            "version": model.version,
            "active": model.is_active,
            "metrics": model.metrics,
        }
        if params.get("then_second_opinion") and settings.intent_second_opinion_model.strip():
            job = submit_job(
                session=session,
                kind=SECOND_OPINION,
                product_id=model.product_id,
                params={"product_id": model.product_id, "version": model.version},
            )
            result["second_opinion_job"] = job.id
        result["pruned"] = prune_after_training(
            session=session, settings=settings, product_id=model.product_id
        )
        return result


@register(SECOND_OPINION)
def second_opinion_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Add the second opinion to a trained version, as a new version activated when that one
    is still active (``activate``, default true); result: version, active, metrics."""
    settings = get_settings()
    with ctx.session() as session:
        model = add_second_opinion_version(
            session=session,
            settings=settings,
            product_id=int(params["product_id"]),
            version=str(params["version"]),
            activate=bool(params.get("activate", True)),
            progress=lambda f, m: ctx.progress(100 * f, m),
        )
        return {
            "version": model.version,
            "extends": str(params["version"]),
            "active": model.is_active,
            "metrics": model.metrics,
            "pruned": prune_after_training(
                session=session, settings=settings, product_id=model.product_id
            ),
        }
