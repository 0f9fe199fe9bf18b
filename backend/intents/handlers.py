"""Intent jobs: importing a staged examples file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from backend.intents.importer import import_examples
from backend.intents.service import ensure_reserved
from backend.worker.registry import JobContext, register

IMPORT = "intents.import"
TRAIN = "intents.train"


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
    """Train the product's intent model (progress with loss and ETA); result: version, metrics."""
    from backend.core.settings import get_settings
    from backend.intents.training import train_product_model

    epochs = params.get("max_epochs")
    with ctx.session() as session:
        model = train_product_model(
            session=session,
            settings=get_settings(),
            product_id=int(params["product_id"]),
            max_epochs=int(epochs) if epochs else None,
            activate=params.get("activate"),
            strategy=str(params.get("strategy") or "auto"),
            progress=lambda f, m: ctx.progress(100 * f, m),
        )
        return {"version": model.version, "active": model.is_active, "metrics": model.metrics}
