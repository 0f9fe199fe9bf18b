"""Admin intent routes: intents, labelled examples, import (a job) and export (streamed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AdminAccess, SessionDep, SettingsDep
from backend.core.errors import InvalidInput, ServiceUnavailable, error_responses
from backend.core.openapi import MAX_ID, Id, ProductId, file_response
from backend.intents import service, versions
from backend.intents.models import (
    ExampleCreate,
    ExamplePublic,
    Intent,
    IntentCreate,
    IntentModel,
    IntentModelPublic,
    IntentPublic,
    IntentUpdate,
    PredictionPublic,
    PredictRequest,
)
from backend.jobs import service as jobs
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobPublic
from backend.knowledge import service as knowledge
from ml.intent.data import DatasetError, clean_examples, require_trainable

admin_router = APIRouter(
    prefix="/products/{product_id}",
    tags=["admin: intents"],
    responses=error_responses(400, 401, 403, 404, 422),
)


def _public(intent: Intent, examples: int = 0) -> IntentPublic:
    return IntentPublic(**intent.model_dump(exclude={"product_id"}), examples=examples)


@admin_router.get("/intents", response_model=list[IntentPublic])
def list_intents(
    product_id: ProductId, access: AdminAccess, session: SessionDep
) -> list[IntentPublic]:
    """The product's intents (reserved ones included) with their example counts."""
    return service.list_intents(session=session, product_id=access.product.id or 0)


@admin_router.post(
    "/intents", response_model=IntentPublic, status_code=201, responses=error_responses(409)
)
def create_intent(
    product_id: ProductId, body: IntentCreate, access: AdminAccess, session: SessionDep
) -> IntentPublic:
    """Create an intent."""
    return _public(
        service.create_intent(session=session, product_id=access.product.id or 0, data=body)
    )


@admin_router.patch(
    "/intents/{intent_id}", response_model=IntentPublic, responses=error_responses(409)
)
def update_intent(
    product_id: ProductId,
    intent_id: Id,
    body: IntentUpdate,
    access: AdminAccess,
    session: SessionDep,
) -> IntentPublic:
    """Rename or describe an intent (reserved intents keep their names)."""
    intent = service.get_intent(
        session=session, product_id=access.product.id or 0, intent_id=intent_id
    )
    return _public(service.update_intent(session=session, intent=intent, data=body))


@admin_router.delete("/intents/{intent_id}", status_code=204)
def delete_intent(
    product_id: ProductId, intent_id: Id, access: AdminAccess, session: SessionDep
) -> Response:
    """Delete an intent and its examples (not a reserved one)."""
    intent = service.get_intent(
        session=session, product_id=access.product.id or 0, intent_id=intent_id
    )
    service.delete_intent(session=session, intent=intent)
    return Response(status_code=204)


@admin_router.get("/intents/{intent_id}/examples", response_model=list[ExamplePublic])
def list_examples(
    product_id: ProductId,
    intent_id: Id,
    access: AdminAccess,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ExamplePublic]:
    """An intent's examples, oldest first."""
    service.get_intent(session=session, product_id=access.product.id or 0, intent_id=intent_id)
    rows = service.list_examples(
        session=session,
        product_id=access.product.id or 0,
        intent_id=intent_id,
        offset=offset,
        limit=limit,
    )
    return [
        ExamplePublic(id=e.id or 0, intent=n, text=e.text, source=e.source, created_at=e.created_at)
        for e, n in rows
    ]


@admin_router.post(
    "/intents/{intent_id}/examples",
    response_model=ExamplePublic,
    status_code=201,
    responses=error_responses(409),
)
def add_example(
    product_id: ProductId,
    intent_id: Id,
    body: ExampleCreate,
    access: AdminAccess,
    session: SessionDep,
) -> ExamplePublic:
    """Label one text with this intent (409 if the text is already an example)."""
    intent = service.get_intent(
        session=session, product_id=access.product.id or 0, intent_id=intent_id
    )
    e = service.add_example(session=session, intent=intent, text=body.text)
    return ExamplePublic(
        id=e.id or 0, intent=intent.name, text=e.text, source=e.source, created_at=e.created_at
    )


@admin_router.delete("/examples/{example_id}", status_code=204)
def delete_example(
    product_id: ProductId, example_id: Id, access: AdminAccess, session: SessionDep
) -> Response:
    """Remove one example."""
    service.delete_example(
        session=session, product_id=access.product.id or 0, example_id=example_id
    )
    return Response(status_code=204)


@admin_router.post(
    "/intents/import",
    response_model=JobPublic,
    status_code=202,
    responses=error_responses(413, 503),
)
async def import_examples(
    product_id: ProductId,
    access: AdminAccess,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV with text,intent columns, or JSONL")],
    create_missing: Annotated[
        bool, Form(description="Create intents the file names but the product lacks")
    ] = False,
) -> Job:
    """Import labelled examples (streamed, one transaction) as a job; its result reports added,
    duplicate, conflicting (kept as stored) and unknown-intent rows."""
    fmt = service.import_format(file.filename or "")
    path = await run_in_threadpool(
        knowledge.stage_stream, settings, file.filename or "examples", _blocks(file)
    )
    try:
        await run_in_threadpool(service.preflight_import, path, fmt)
    except BaseException:
        knowledge.discard_staged(path)
        raise
    params = {
        "product_id": access.product.id,
        "staged_path": str(path),
        "format": fmt,
        "create_missing": create_missing,
    }
    return await run_in_threadpool(
        lambda: jobs.submit_job(
            session=session,
            kind=JobKind.intents_import,
            product_id=access.product.id,
            params=params,
            created_by=access.user.id,
        )
    )


def _blocks(upload: UploadFile) -> Iterator[bytes]:
    while block := upload.file.read(1 << 20):
        yield block


@admin_router.get(
    "/intents/export",
    response_class=StreamingResponse,
    responses=file_response(
        "``text,intent`` CSV, or JSON Lines", "text/csv", "application/x-ndjson"
    ),
)
def export_examples(
    product_id: ProductId,
    access: AdminAccess,
    session: SessionDep,
    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
) -> StreamingResponse:
    """Every labelled example as CSV (``text,intent``) or JSONL, streamed."""
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    name = f"{access.product.slug}-intent-examples.{format}"
    return StreamingResponse(
        service.export_examples(session=session, product_id=access.product.id or 0, fmt=format),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@admin_router.post(
    "/intents/train", response_model=JobPublic, status_code=202, responses=error_responses(503)
)
def train(
    product_id: ProductId,
    access: AdminAccess,
    session: SessionDep,
    max_epochs: Annotated[int | None, Query(ge=1, le=50, description="Cap the epochs")] = None,
    activate: Annotated[
        bool | None, Query(description="Activate when done (default: if none is)")
    ] = None,
    strategy: Annotated[
        Literal["auto", "finetune", "frozen_head"],
        Query(description="auto: frozen-encoder head below 3,000 examples, else full fine-tune"),
    ] = "auto",
) -> Job:
    """Train the product's intent model from its examples, as a job (progress with loss, ETA)."""
    product_id = access.product.id or 0
    service.ensure_reserved(session=session, product_id=product_id)
    _, _, report = clean_examples(versions.training_rows(session=session, product_id=product_id))
    try:
        require_trainable(report, min_classes=2, min_per_class=2)
    except DatasetError as exc:  # refuse bad data here, with a 422, rather than in the job
        raise InvalidInput(f"cannot train: {exc}", code="untrainable_data") from None
    params = {
        "product_id": product_id,
        "max_epochs": max_epochs,
        "activate": activate,
        "strategy": strategy,
    }
    return jobs.submit_job(
        session=session,
        kind=JobKind.intents_train,
        product_id=product_id,
        params=params,
        created_by=access.user.id,
    )


@admin_router.get("/intent-models", response_model=list[IntentModelPublic])
def list_models(
    product_id: ProductId, access: AdminAccess, session: SessionDep
) -> list[IntentModel]:
    """The product's trained intent models with their validation metrics, newest first."""
    return versions.list_models(session=session, product_id=access.product.id or 0)


@admin_router.get(
    "/intent-models/{version}/report",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def model_report(
    product_id: ProductId, version: str, access: AdminAccess, session: SessionDep
) -> Response:
    """The version's evaluation report on its validation split: accuracy, macro-F1, per-intent
    precision/recall/F1, most confused pairs, ECE with reliability bins, out-of-scope P/R."""
    path = versions.model_report_file(
        session=session, product_id=access.product.id or 0, version=version, name="report.json"
    )
    return Response(path.read_bytes(), media_type="application/json")


@admin_router.get(
    "/intent-models/{version}/reliability.png",
    response_class=FileResponse,
    responses=file_response("The reliability diagram", "image/png", binary=True),
)
def model_reliability(
    product_id: ProductId, version: str, access: AdminAccess, session: SessionDep
) -> FileResponse:
    """The version's reliability diagram (validation split) as a PNG."""
    path = versions.model_report_file(
        session=session, product_id=access.product.id or 0, version=version, name="reliability.png"
    )
    return FileResponse(path, media_type="image/png")


@admin_router.post("/intent-models/{version}/activate", response_model=IntentModelPublic)
def activate(
    product_id: ProductId, version: str, access: AdminAccess, session: SessionDep
) -> IntentModel:
    """Serve this version from now on (every API process swaps within seconds, no restart)."""
    return versions.activate_version(
        session=session, product_id=access.product.id or 0, version=version
    )


@admin_router.post(
    "/intents/predict", response_model=PredictionPublic, responses=error_responses(503)
)
def predict(
    product_id: ProductId, body: PredictRequest, access: AdminAccess, request: Request
) -> PredictionPublic:
    """Run the active intent model on a text (what the gate would decide)."""
    runtime = request.app.state.intents
    version, prediction = runtime.predict(access.product.id or 0, body.text)
    if prediction is None:
        raise ServiceUnavailable(
            "no intent model is active yet for this product", code="warming_up"
        )
    return PredictionPublic(
        intent=prediction.intent,
        confidence=prediction.confidence,
        is_out_of_scope=prediction.is_out_of_scope,
        top_k=list(prediction.top_k),
        model_version=version,
    )
