"""Knowledge operations behind the admin API and the CLI (keyword-only; commits happen here or
in ``ingest``). Uploads are validated in the request (clear 4xx), then ingested by a job."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.errors import Conflict, NotFound
from backend.core.settings import Settings
from backend.jobs import service as jobs
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job
from backend.knowledge.ingest import limits_from
from backend.knowledge.models import Document, DocumentStatus, KnowledgeChunk, KnowledgeIndex
from backend.knowledge.parsing.fetch import fetch_url
from backend.knowledge.parsing.parse import parse_file
from backend.knowledge.parsing.sniff import sniff_type
from backend.knowledge.parsing.types import FileTooLarge, IngestError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(name: str) -> str:
    """A document name from an upload's filename: no folders, no control characters."""
    base = Path(name.replace("\\", "/")).name.strip()
    cleaned = _UNSAFE.sub("_", base)[:200].strip(" .")
    return cleaned or "document"


def staging_dir(settings: Settings) -> Path:
    """A fresh folder for one staged upload (removed by the job that ingests it)."""
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def stage_stream(settings: Settings, filename: str, chunks: Iterable[bytes]) -> Path:
    """Write an upload to staging, refusing it as soon as it exceeds the size limit."""
    limit = limits_from(settings).max_bytes
    folder = staging_dir(settings)
    path = folder / safe_name(filename)
    written = 0
    try:
        with path.open("wb") as fh:
            for block in chunks:
                written += len(block)
                if written > limit:
                    raise FileTooLarge(
                        f"the file is larger than the {limit / 1048576:.0f} MB limit "
                        "(DESKPILOT_KB_MAX_UPLOAD_MB)"
                    )
                fh.write(block)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


def stage_url(settings: Settings, url: str) -> tuple[Path, str]:
    """Fetch a URL into staging (size, time and address limits apply); returns (path, name)."""
    folder = staging_dir(settings)
    try:
        fetched = fetch_url(url, folder, limits_from(settings))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return fetched.path, safe_name(fetched.filename)


def preflight(settings: Settings, path: Path, name: str) -> str:
    """Validate a staged file before queuing it; returns its detected type, raises IngestError.

    Everything but PDF is parsed in full here (FAQ files stream; text formats are quick); a PDF
    is only opened and checked for encryption, its text is extracted by the job."""
    limits = limits_from(settings)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise FileTooLarge(f"the file is larger than the {limits.max_bytes / 1048576:.0f} MB limit")
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise IngestError("the file is empty", code="empty_file")
    kind = sniff_type(head, name)
    if kind == "pdf":
        from backend.knowledge.parsing.documents import check_pdf

        check_pdf(path)
    else:
        parse_file(path, name, limits)
    return kind


def discard_staged(path: Path) -> None:
    """Remove a staged upload that will not be ingested."""
    shutil.rmtree(path.parent, ignore_errors=True)


def submit_ingest(
    *,
    session: Session,
    settings: Settings,
    product_id: int,
    path: Path,
    name: str,
    source_uri: str | None,
    user_id: int | None,
) -> Job:
    """Validate the staged file, then queue its ingestion (the staged file is the job's input)."""
    try:
        preflight(settings, path, name)
    except BaseException:
        discard_staged(path)
        raise
    params = {
        "product_id": product_id,
        "staged_path": str(path),
        "name": name,
        "source_uri": source_uri,
    }
    return jobs.submit_job(
        session=session,
        kind=JobKind.kb_ingest,
        product_id=product_id,
        params=params,
        created_by=user_id,
    )


def list_documents(*, session: Session, product_id: int) -> list[Document]:
    """The product's documents, newest first."""
    return list(
        session.exec(
            select(Document)
            .where(Document.product_id == product_id)
            .order_by(col(Document.id).desc())
        ).all()
    )


def get_document(*, session: Session, product_id: int, document_id: int) -> Document:
    """A document of this product, or NotFound."""
    doc = session.get(Document, document_id)
    if doc is None or doc.product_id != product_id:
        raise NotFound(f"document {document_id} not found")
    return doc


def document_chunks(*, session: Session, document_id: int) -> list[KnowledgeChunk]:
    """A document's chunks in order."""
    return list(
        session.exec(
            select(KnowledgeChunk)
            .where(KnowledgeChunk.document_id == document_id)
            .order_by(col(KnowledgeChunk.ordinal))
        ).all()
    )


def delete_document(*, session: Session, doc: Document, user_id: int | None) -> Job:
    """Hide the document from answers at once, and queue its removal from the index."""
    if doc.status == DocumentStatus.deleting:
        raise Conflict(f"document {doc.id} is already being deleted")
    doc.status = DocumentStatus.deleting
    session.add(doc)
    session.commit()
    return jobs.submit_job(
        session=session,
        kind=JobKind.kb_delete,
        product_id=doc.product_id,
        params={"document_id": doc.id},
        created_by=user_id,
    )


def submit_reindex(*, session: Session, product_id: int, reembed: bool, user_id: int | None) -> Job:
    """Queue a rebuild of the product's index."""
    return jobs.submit_job(
        session=session,
        kind=JobKind.kb_reindex,
        product_id=product_id,
        params={"product_id": product_id, "reembed": reembed},
        created_by=user_id,
    )


def list_indexes(*, session: Session, product_id: int) -> list[KnowledgeIndex]:
    """The product's index versions, newest first."""
    return list(
        session.exec(
            select(KnowledgeIndex)
            .where(KnowledgeIndex.product_id == product_id)
            .order_by(col(KnowledgeIndex.id).desc())
        ).all()
    )
