"""Knowledge tables: documents, their chunks, and the per-product index versions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow


class DocumentStatus(enum.StrEnum):
    ready = "ready"
    deleting = "deleting"  # removed from answers at once; its chunks go with the next index build


class Document(SQLModel, table=True):
    """An uploaded source. Re-uploading the same name replaces it (``version`` goes up)."""

    __table_args__ = (UniqueConstraint("product_id", "name", name="uq_document_product_name"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=300)
    source_type: str = Field(max_length=16)
    source_uri: str | None = Field(default=None, max_length=2000)
    content_sha256: str = Field(max_length=64)
    size_bytes: int = 0
    version: int = 1
    status: DocumentStatus = Field(default=DocumentStatus.ready, sa_type=String(16))
    chunk_count: int = 0
    title: str = Field(default="", max_length=500)
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class KnowledgeChunk(SQLModel, table=True):
    """A retrievable unit: one whole FAQ entry, or one passage of a longer document."""

    __tablename__ = "knowledge_chunk"

    id: str = Field(primary_key=True, max_length=40)  # generated before the index is built
    document_id: int = Field(foreign_key="document.id", index=True, ondelete="CASCADE")
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    ordinal: int
    kind: str = Field(max_length=16)  # faq | passage
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    text: str = Field(sa_column=Column(Text, nullable=False))
    question: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    alternatives: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    heading_path: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    category: str | None = Field(default=None, max_length=200, index=True)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    url: str | None = Field(default=None, max_length=2000)


class KnowledgeIndex(SQLModel, table=True):
    """A built index folder under ``DATA_DIR/indexes/<product>/<version>``; one is active."""

    __tablename__ = "knowledge_index"
    __table_args__ = (UniqueConstraint("product_id", "version", name="uq_index_product_version"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True, ondelete="CASCADE")
    version: str = Field(max_length=64)
    is_active: bool = Field(default=False, index=True)
    n_chunks: int = 0
    embedder: str = Field(default="", max_length=500)
    data_hash: str = Field(default="", max_length=64)
    build_s: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class DocumentPublic(SQLModel):
    id: int
    product_id: int
    name: str
    title: str
    source_type: str
    source_uri: str | None
    size_bytes: int
    version: int
    status: DocumentStatus
    chunk_count: int
    warnings: list[str]
    created_at: datetime
    updated_at: datetime


class ChunkPublic(SQLModel):
    id: str
    ordinal: int
    kind: str
    title: str
    text: str
    question: str | None
    answer: str | None
    alternatives: list[str]
    heading_path: list[str]
    category: str | None
    tags: list[str]
    url: str | None


class DocumentDetail(DocumentPublic):
    chunks: list[ChunkPublic]


class IndexPublic(SQLModel):
    version: str
    is_active: bool
    n_chunks: int
    embedder: str
    data_hash: str
    build_s: float
    created_at: datetime


class RetrievalTestRequest(SQLModel):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=5, ge=1, le=50)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    category: list[str] | None = None


class RetrievalHitPublic(SQLModel):
    rank: int
    score: float
    dense_score: float
    bm25_score: float
    chunk_id: str
    document: str
    kind: str
    title: str
    text: str
    category: str | None
    url: str | None


class RetrievalTestResponse(SQLModel):
    query: str
    index_version: str | None
    hits: list[RetrievalHitPublic]
