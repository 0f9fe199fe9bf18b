"""Admin knowledge routes: upload (file or URL), list, inspect, delete, re-index, retrieval test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AdminAccess, SessionDep, SettingsDep
from backend.core.errors import InvalidInput, error_responses
from backend.core.openapi import Id, ProductId
from backend.jobs.models import Job, JobPublic
from backend.knowledge import service
from backend.knowledge.models import (
    ChunkPublic,
    Document,
    DocumentDetail,
    DocumentPublic,
    IndexPublic,
    KnowledgeIndex,
    RetrievalHitPublic,
    RetrievalTestRequest,
    RetrievalTestResponse,
)
from backend.knowledge.runtime import KnowledgeRuntime

admin_router = APIRouter(
    prefix="/products/{product_id}",
    tags=["admin: knowledge"],
    responses=error_responses(400, 401, 403, 404, 422),
)
READ_BLOCK = 1 << 20


def _blocks(upload: UploadFile) -> Iterator[bytes]:
    while block := upload.file.read(READ_BLOCK):
        yield block


@admin_router.post(
    "/documents", response_model=JobPublic, status_code=202, responses=error_responses(413, 503)
)
async def upload_document(
    product_id: ProductId,
    access: AdminAccess,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile | None, File(description="FAQ (CSV, JSON, JSONL) or document")
    ] = None,
    url: Annotated[str | None, Form(description="Or a web page / file to fetch")] = None,
    name: Annotated[str | None, Form(description="Document name (default: the filename)")] = None,
) -> Job:
    """Add or replace a document (same name = new version). Validated here (4xx on bad input),
    then ingested by a job: poll ``GET /api/v1/admin/jobs/{id}``."""
    if (file is None) == (url is None or not url.strip()):
        raise InvalidInput(
            "send either a file or a url (form fields `file` / `url`)", code="file_or_url"
        )
    if file is not None:
        filename = file.filename or "upload"
        path = await run_in_threadpool(service.stage_stream, settings, filename, _blocks(file))
        source_uri = None
    else:
        assert url is not None
        path, filename = await run_in_threadpool(service.stage_url, settings, url.strip())
        source_uri = url.strip()
    doc_name = service.safe_name(name) if name else path.name
    return await run_in_threadpool(
        lambda: service.submit_ingest(
            session=session,
            settings=settings,
            product_id=access.product.id or 0,
            path=path,
            name=doc_name,
            source_uri=source_uri,
            user_id=access.user.id,
        )
    )


@admin_router.get("/documents", response_model=list[DocumentPublic])
def list_documents(
    product_id: ProductId, access: AdminAccess, session: SessionDep
) -> list[Document]:
    """The product's documents, newest first."""
    return service.list_documents(session=session, product_id=access.product.id or 0)


@admin_router.get("/documents/{document_id}", response_model=DocumentDetail)
def get_document(
    product_id: ProductId, document_id: Id, access: AdminAccess, session: SessionDep
) -> DocumentDetail:
    """A document with its chunks."""
    doc = service.get_document(
        session=session, product_id=access.product.id or 0, document_id=document_id
    )
    chunks = service.document_chunks(session=session, document_id=document_id)
    return DocumentDetail(
        **DocumentPublic.model_validate(doc).model_dump(),
        chunks=[ChunkPublic.model_validate(c) for c in chunks],
    )


@admin_router.delete(
    "/documents/{document_id}",
    response_model=JobPublic,
    status_code=202,
    responses=error_responses(409, 503),
)
def delete_document(
    product_id: ProductId, document_id: Id, access: AdminAccess, session: SessionDep
) -> Job:
    """Remove a document: it stops appearing in answers at once; a job rebuilds the index."""
    doc = service.get_document(
        session=session, product_id=access.product.id or 0, document_id=document_id
    )
    return service.delete_document(session=session, doc=doc, user_id=access.user.id)


@admin_router.post(
    "/knowledge/reindex", response_model=JobPublic, status_code=202, responses=error_responses(503)
)
def reindex(
    product_id: ProductId,
    access: AdminAccess,
    session: SessionDep,
    reembed: Annotated[
        bool, Query(description="Embed everything again (after a model change)")
    ] = False,
) -> Job:
    """Rebuild the product's index from its stored documents."""
    return service.submit_reindex(
        session=session, product_id=access.product.id or 0, reembed=reembed, user_id=access.user.id
    )


@admin_router.get("/knowledge/indexes", response_model=list[IndexPublic])
def list_indexes(
    product_id: ProductId, access: AdminAccess, session: SessionDep
) -> list[KnowledgeIndex]:
    """Index versions, newest first; one is active."""
    return service.list_indexes(session=session, product_id=access.product.id or 0)


@admin_router.post("/knowledge/search", response_model=RetrievalTestResponse)
def retrieval_test(
    product_id: ProductId, body: RetrievalTestRequest, access: AdminAccess, request: Request
) -> RetrievalTestResponse:
    """Retrieval test: the ranked chunks (with dense, BM25 and fused scores) for a query."""
    runtime: KnowledgeRuntime = request.app.state.knowledge
    filters = {"category": body.category} if body.category else None
    version, hits = runtime.search(
        access.product.id or 0, body.query, body.k, mode=body.mode, filters=filters
    )
    return RetrievalTestResponse(
        query=body.query,
        index_version=version,
        hits=[
            RetrievalHitPublic(
                rank=h.rank,
                score=h.score,
                dense_score=h.details.get("dense", 0.0),
                bm25_score=h.details.get("bm25", 0.0),
                chunk_id=h.chunk.id,
                document=str(h.chunk.metadata.get("document", "")),
                kind=str(h.chunk.metadata.get("kind", "")),
                title=h.chunk.title,
                text=h.chunk.text,
                category=h.chunk.metadata.get("category"),
                url=h.chunk.metadata.get("url"),
            )
            for h in hits
        ],
    )
