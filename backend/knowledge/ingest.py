"""Ingestion: parse a staged file, chunk it, build the index aside, then swap in one commit.

Used by the ``kb.ingest`` job and by ``deskpilot kb add``. A failure at any step leaves the stored
documents and the serving index exactly as they were.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete
from sqlmodel import Session, col, select

from backend.core.db import utcnow
from backend.core.settings import Settings
from backend.knowledge import indexing
from backend.knowledge.models import Document, DocumentStatus, KnowledgeChunk
from backend.knowledge.parsing.parse import parse_file
from backend.knowledge.parsing.types import IngestLimits, ParsedDocument
from ml.rag.chunking import chunk_sections

Progress = Callable[[float, str], None]


def limits_from(settings: Settings) -> IngestLimits:
    """Ingestion limits from settings."""
    return IngestLimits(
        max_bytes=int(settings.kb_max_upload_mb * 1024 * 1024),
        max_rows=settings.kb_max_rows,
        fetch_timeout_s=settings.kb_fetch_timeout_s,
        allow_private_urls=settings.kb_allow_private_urls,
    )


@dataclass
class IngestResult:
    document_id: int
    name: str
    version: int
    chunk_count: int
    index_version: str | None
    unchanged: bool = False
    warnings: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    """Content hash, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_chunks(
    parsed: ParsedDocument, *, product_id: int, settings: Settings
) -> list[KnowledgeChunk]:
    """Chunk rows for a parsed document (document_id is set when the document row exists)."""
    rows: list[KnowledgeChunk] = []
    if parsed.is_faq:
        for i, entry in enumerate(parsed.faq):
            rows.append(
                KnowledgeChunk(
                    id=uuid.uuid4().hex,
                    document_id=0,
                    product_id=product_id,
                    ordinal=i,
                    kind="faq",
                    title=entry.question,
                    text=f"{entry.question}\n{entry.answer}",
                    question=entry.question,
                    answer=entry.answer,
                    alternatives=entry.alternatives[:3],
                    category=entry.category,
                    tags=entry.tags,
                    url=entry.url,
                )
            )
        return rows
    passages = chunk_sections(
        ((s.heading_path, s.text) for s in parsed.sections),
        max_chars=settings.kb_chunk_chars,
        overlap_chars=min(settings.kb_chunk_overlap_chars, settings.kb_chunk_chars // 2 - 1),
    )
    for i, p in enumerate(passages):
        rows.append(
            KnowledgeChunk(
                id=uuid.uuid4().hex,
                document_id=0,
                product_id=product_id,
                ordinal=i,
                kind="passage",
                title=" > ".join(p.heading_path),
                text=p.text,
                heading_path=list(p.heading_path),
            )
        )
    return rows


def find_document(session: Session, product_id: int, name: str) -> Document | None:
    """The product's document with this name, if any."""
    return session.exec(
        select(Document).where(Document.product_id == product_id, Document.name == name)
    ).first()


def ingest_file(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    path: Path,
    name: str,
    source_uri: str | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Add or replace the document ``name`` from the file at ``path``."""
    report = progress or (lambda _f, _m: None)
    report(0.02, "parsing")
    parsed = parse_file(path, name, limits_from(settings))
    sha = file_sha256(path)
    existing = find_document(session, product_id, name)
    if existing and existing.content_sha256 == sha and existing.status == DocumentStatus.ready:
        active = indexing.active_index_row(session, product_id)
        return IngestResult(
            existing.id or 0,
            name,
            existing.version,
            existing.chunk_count,
            active.version if active else None,
            unchanged=True,
        )
    new_chunks = make_chunks(parsed, product_id=product_id, settings=settings)
    report(0.1, f"parsed {len(new_chunks)} chunks")
    others = indexing.live_chunks(
        session, product_id, [existing.id] if existing and existing.id else []
    )
    built = indexing.build_index(
        session=session,
        settings=settings,
        product_id=product_id,
        chunks=[*others, *((c, name) for c in new_chunks)],
        progress=lambda f, m: report(0.1 + 0.8 * f, m),
    )
    report(0.92, "activating the new index")
    doc = existing or Document(
        product_id=product_id, name=name, source_type=parsed.source_type, content_sha256=sha
    )

    def changes() -> None:
        if existing is not None:
            session.execute(
                delete(KnowledgeChunk).where(col(KnowledgeChunk.document_id) == existing.id)
            )
            doc.version += 1
            doc.status = DocumentStatus.ready
        doc.source_type = parsed.source_type
        doc.source_uri = source_uri
        doc.content_sha256 = sha
        doc.size_bytes = path.stat().st_size
        doc.chunk_count = len(new_chunks)
        doc.title = parsed.title[:500]
        doc.warnings = parsed.warnings[:50]
        doc.updated_at = utcnow()
        session.add(doc)
        session.flush()
        for chunk in new_chunks:
            chunk.document_id = doc.id or 0
        session.add_all(new_chunks)

    indexing.commit_with_index(
        session=session, settings=settings, product_id=product_id, built=built, changes=changes
    )
    report(1.0, "done")
    return IngestResult(
        doc.id or 0, name, doc.version, len(new_chunks), built.version, warnings=parsed.warnings
    )


def remove_document(
    *, session: Session, settings: Settings, document_id: int, progress: Progress | None = None
) -> str:
    """Delete a document (already hidden as ``deleting``): rebuild without it, then commit."""
    doc = session.get(Document, document_id)
    if doc is None:
        return "already removed"
    product_id = doc.product_id
    built = indexing.build_index(
        session=session,
        settings=settings,
        product_id=product_id,
        chunks=indexing.live_chunks(session, product_id, [document_id]),
        progress=progress,
    )

    def changes() -> None:
        session.execute(
            delete(KnowledgeChunk).where(col(KnowledgeChunk.document_id) == document_id)
        )
        session.delete(doc)

    indexing.commit_with_index(
        session=session, settings=settings, product_id=product_id, built=built, changes=changes
    )
    return built.version


def reindex_product(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    reembed: bool,
    progress: Progress | None = None,
) -> str:
    """Rebuild the product's index from its stored chunks (``reembed`` after an embedder change)."""
    built = indexing.build_index(
        session=session,
        settings=settings,
        product_id=product_id,
        chunks=indexing.live_chunks(session, product_id),
        progress=progress,
        reembed=reembed,
    )
    indexing.commit_with_index(
        session=session, settings=settings, product_id=product_id, built=built, changes=lambda: None
    )
    return built.version
