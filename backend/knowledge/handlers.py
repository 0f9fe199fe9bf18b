"""Knowledge jobs run by the worker: ingest a staged file, delete a document, rebuild the index."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from backend.core.errors import Conflict
from backend.core.settings import get_settings
from backend.jobs.kinds import JobKind
from backend.jobs.registry import JobContext, register
from backend.knowledge import ingest

INGEST, DELETE, REINDEX = JobKind.kb_ingest, JobKind.kb_delete, JobKind.kb_reindex
T = TypeVar("T")
CONFLICT_RETRIES = 3


def _with_conflict_retry(fn: Callable[[], T]) -> T:
    """Another update activated an index while we built ours: build again on the new state."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            return fn()
        except Conflict as exc:
            if exc.code != "index_conflict" or attempt == CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@register(INGEST)
def ingest_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Parse, chunk and index one staged file; the staged copy is removed afterwards."""
    staged = Path(params["staged_path"])
    settings = get_settings()
    try:

        def run() -> ingest.IngestResult:
            with ctx.session() as session:
                return ingest.ingest_file(
                    session=session,
                    settings=settings,
                    product_id=int(params["product_id"]),
                    path=staged,
                    name=str(params["name"]),
                    source_uri=params.get("source_uri"),
                    progress=lambda f, m: ctx.progress(100 * f, m),
                )

        result = _with_conflict_retry(run)
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)
    return {
        "document_id": result.document_id,
        "name": result.name,
        "version": result.version,
        "chunks": result.chunk_count,
        "index_version": result.index_version,
        "unchanged": result.unchanged,
        "warnings": result.warnings[:20],
    }


@register(DELETE)
def delete_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the index without the document, then delete it and its chunks."""
    settings = get_settings()

    def run() -> str:
        with ctx.session() as session:
            return ingest.remove_document(
                session=session,
                settings=settings,
                document_id=int(params["document_id"]),
                progress=lambda f, m: ctx.progress(100 * f, m),
            )

    return {"index_version": _with_conflict_retry(run)}


@register(REINDEX)
def reindex_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the product's index from its stored chunks."""
    settings = get_settings()

    def run() -> str:
        with ctx.session() as session:
            return ingest.reindex_product(
                session=session,
                settings=settings,
                product_id=int(params["product_id"]),
                reembed=bool(params.get("reembed", False)),
                progress=lambda f, m: ctx.progress(100 * f, m),
            )

    return {"index_version": _with_conflict_retry(run)}
