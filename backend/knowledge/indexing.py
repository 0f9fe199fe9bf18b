"""Building a product's index from its chunks and activating it.

An index is built aside (a new version folder, renamed into place when complete) and activated in
the same transaction that changes the chunks, so the serving index and the database never
disagree; if anything fails before that commit, the previous index keeps serving untouched.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.db import utcnow
from backend.core.errors import Conflict
from backend.core.settings import Settings
from backend.knowledge.models import Document, DocumentStatus, KnowledgeChunk, KnowledgeIndex
from ml.embeddings.onnx_sentence import OnnxSentenceEmbedder
from ml.embeddings.sentence import SentenceEmbedder
from ml.interfaces import Embedder
from ml.rag.items import IndexItem, faq_item, passage_item
from ml.retrieval.hybrid import FusionConfig, HybridIndex, save_atomically

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]


@lru_cache(maxsize=4)
def embedder_for(model: str) -> SentenceEmbedder:
    """One embedder per model per process (loaded on first use)."""
    return SentenceEmbedder(model)


def query_embedder_for(settings: Settings) -> Embedder:
    """The API's query embedder: the embedding model through ONNX Runtime (its graph is the
    encoder store's, in the model cache, shared with the intent models on the same encoder)
    unless ``query_embedder`` is ``torch``."""
    if settings.query_embedder == "torch":
        return embedder_for(settings.embedding_model)
    return _onnx_embedder(settings.embedding_model, None, settings.inference_threads)


_onnx_lock = threading.Lock()
_onnx_embedders: dict[tuple[str, int], OnnxSentenceEmbedder] = {}


def _onnx_embedder(model: str, cache_dir: Path | None, threads: int) -> OnnxSentenceEmbedder:
    """One ONNX query embedder per model per process, like :func:`embedder_for` (another
    ``data_dir`` in the same process, as in tests, reuses the graph already loaded)."""
    with _onnx_lock:
        key = (model, threads)
        if key not in _onnx_embedders:
            _onnx_embedders[key] = OnnxSentenceEmbedder(
                reference=embedder_for(model), cache_dir=cache_dir, threads=threads
            )
        return _onnx_embedders[key]


def fusion_for(settings: Settings) -> FusionConfig:
    """The hybrid-search fusion the settings ask for (recorded in each new index's manifest and
    applied to every index the API loads, so changing it needs no re-index)."""
    return FusionConfig(method=settings.retrieval_fusion)


def index_root(settings: Settings, product_id: int) -> Path:
    """Where a product's index versions live."""
    return settings.data_dir / "indexes" / str(product_id)


def to_item(chunk: KnowledgeChunk, document: str) -> IndexItem:
    """The index item of a stored chunk (FAQ entries whole, passages with their headings)."""
    meta = {"document": document, "url": chunk.url, "tags": list(chunk.tags)}
    if chunk.kind == "faq":
        return faq_item(
            chunk_id=chunk.id,
            question=chunk.question or chunk.title,
            answer=chunk.answer or chunk.text,
            alternatives=list(chunk.alternatives),
            category=chunk.category,
            metadata=meta,
        )
    return passage_item(
        chunk_id=chunk.id,
        text=chunk.text,
        heading_path=list(chunk.heading_path),
        category=chunk.category,
        metadata=meta,
    )


def active_index_row(session: Session, product_id: int) -> KnowledgeIndex | None:
    """The product's active index row, if any."""
    return session.exec(
        select(KnowledgeIndex).where(
            KnowledgeIndex.product_id == product_id, col(KnowledgeIndex.is_active).is_(True)
        )
    ).first()


def live_chunks(
    session: Session, product_id: int, exclude_documents: Sequence[int] = ()
) -> list[tuple[KnowledgeChunk, str]]:
    """(chunk, document name) of the product's ready documents, minus ``exclude_documents``."""
    query = (
        select(KnowledgeChunk, Document.name)
        .join(Document, col(Document.id) == col(KnowledgeChunk.document_id))
        .where(
            KnowledgeChunk.product_id == product_id,
            Document.status == DocumentStatus.ready,
        )
        .order_by(col(KnowledgeChunk.document_id), col(KnowledgeChunk.ordinal))
    )
    if exclude_documents:
        query = query.where(col(KnowledgeChunk.document_id).notin_(list(exclude_documents)))
    return [(chunk, name) for chunk, name in session.exec(query).all()]


@dataclass
class BuiltIndex:
    """An index saved under its version folder, not yet active."""

    version: str
    path: Path
    index: HybridIndex
    based_on: str | None  # the active version when the build started (optimistic concurrency)
    build_s: float


def build_index(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    chunks: Sequence[tuple[KnowledgeChunk, str]],
    progress: Progress | None = None,
    reembed: bool = False,
) -> BuiltIndex:
    """Embed (reusing the active index's vectors for unchanged texts) and save a new version."""
    embedder = embedder_for(settings.embedding_model)
    active = active_index_row(session, product_id)
    reuse = {}
    if active is not None and not reembed:
        try:
            previous = HybridIndex.load(index_root(settings, product_id) / active.version, embedder)
            reuse = previous.reusable_vectors(embedder.name)
        except (OSError, ValueError):
            log.warning("active index %s unreadable; re-embedding everything", active.version)
    version = f"{utcnow().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    start = time.perf_counter()
    index = HybridIndex.build(
        [to_item(c, doc) for c, doc in chunks],
        embedder,
        version=version,
        fusion=fusion_for(settings),
        progress=progress,
        reuse=reuse,
    )
    path = save_atomically(index, index_root(settings, product_id))
    return BuiltIndex(
        version, path, index, active.version if active else None, time.perf_counter() - start
    )


def stage_activation(*, session: Session, product_id: int, built: BuiltIndex) -> None:
    """Within the caller's transaction: check nobody activated another version meanwhile, then
    make ``built`` the active index. The caller commits (with its chunk changes)."""
    active = active_index_row(session, product_id)
    if (active.version if active else None) != built.based_on:
        raise Conflict(
            "another knowledge update finished while this one was building; it will be retried",
            code="index_conflict",
        )
    if active is not None:
        active.is_active = False
        session.add(active)
    session.add(
        KnowledgeIndex(
            product_id=product_id,
            version=built.version,
            is_active=True,
            n_chunks=built.index.manifest.n_items,
            embedder=built.index.manifest.embedder,
            data_hash=built.index.manifest.data_hash,
            build_s=round(built.build_s, 3),
        )
    )


def commit_with_index(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    built: BuiltIndex,
    changes: Callable[[], None],
) -> None:
    """Apply ``changes`` to the chunks and activate ``built`` in one commit; on any failure roll
    back and delete the built folder, so the previous state keeps serving. Prunes old versions."""
    try:
        changes()
        stage_activation(session=session, product_id=product_id, built=built)
        session.commit()
    except BaseException:
        session.rollback()
        discard(built)
        raise
    prune_versions(session=session, settings=settings, product_id=product_id)


def discard(built: BuiltIndex) -> None:
    """Remove a built index that was never activated."""
    shutil.rmtree(built.path, ignore_errors=True)


def prune_versions(*, session: Session, settings: Settings, product_id: int) -> None:
    """Keep the newest ``index_keep_versions`` inactive versions (for rollback); delete the rest."""
    rows = session.exec(
        select(KnowledgeIndex)
        .where(KnowledgeIndex.product_id == product_id)
        .order_by(col(KnowledgeIndex.id).desc())
    ).all()
    keep = {r.version for r in rows if r.is_active}
    keep |= set([r.version for r in rows if not r.is_active][: settings.index_keep_versions])
    root = index_root(settings, product_id)
    for row in rows:
        if row.version not in keep:
            shutil.rmtree(root / row.version, ignore_errors=True)
            session.delete(row)
    session.commit()
    known = {row.version for row in rows if row.version in keep}
    if root.exists():  # leftovers of crashed builds: temp folders and never-activated versions
        for leftover in root.iterdir():
            old = time.time() - leftover.stat().st_mtime > 3600
            if leftover.name not in known and old:
                shutil.rmtree(leftover, ignore_errors=True)
