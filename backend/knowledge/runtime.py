"""The API side of retrieval: each product's active index, loaded once and swapped when the
database says another version became active (checked at most every ``index_poll_s``), so every
API process picks up new knowledge within seconds, without a restart."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.core.metrics import Metrics
from backend.core.settings import Settings
from backend.knowledge import indexing
from backend.knowledge.models import Document, DocumentStatus, KnowledgeChunk
from ml.embeddings.cache import QueryCache
from ml.interfaces import ScoredChunk
from ml.retrieval.hybrid import HybridIndex, Mode

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    version: str | None = None
    index: HybridIndex | None = None
    hidden: set[str] = field(default_factory=set)  # chunks of documents being deleted
    checked_at: float = 0.0
    error: str | None = None


class KnowledgeRuntime:
    """Per-product active indexes for one API process (held on ``app.state.knowledge``)."""

    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        # a message's searches (unfiltered, then within the predicted intent) embed it once
        self.embedder = QueryCache(indexing.query_embedder_for(settings))
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the query embedder (seconds; done once at startup)."""
        import torch

        # one query per call: more threads only spin (against a local vLLM, badly)
        torch.set_num_threads(self.settings.inference_threads)
        self.embedder.warm_up()
        self.embedder.embed(["warm up"])

    def embedder_status(self) -> str:
        """Readiness detail: the query embedder's model and how it runs (onnx or torch)."""
        backend = getattr(self.embedder.embedder, "backend", "torch")
        return f"{self.embedder.name} ({backend})"

    def _refresh(self, product_id: int) -> _Entry:
        entry = self._entries.setdefault(product_id, _Entry())
        if time.monotonic() - entry.checked_at < self.settings.index_poll_s:
            return entry
        with self._lock, Session(self.engine) as session:
            row = indexing.active_index_row(session, product_id)
            hidden = session.exec(
                select(KnowledgeChunk.id)
                .join(Document, col(Document.id) == col(KnowledgeChunk.document_id))
                .where(
                    Document.product_id == product_id, Document.status == DocumentStatus.deleting
                )
            ).all()
            entry.hidden = set(hidden)
            version = row.version if row else None
            if version != entry.version:
                if version is None:
                    entry.index, entry.version = None, None
                else:
                    try:
                        folder = indexing.index_root(self.settings, product_id) / version
                        entry.index = HybridIndex.load(
                            folder, self.embedder, indexing.fusion_for(self.settings)
                        )
                        entry.version, entry.error = version, None
                        if self.metrics:
                            self.metrics.index_swaps.inc()
                        log.info("product %s: serving index %s", product_id, version)
                    except (OSError, ValueError) as exc:  # keep serving the previous one
                        entry.error = f"cannot load index {version}: {exc}"
                        log.error("product %s: %s", product_id, entry.error)
            entry.checked_at = time.monotonic()
        return entry

    def version(self, product_id: int) -> str | None:
        """The index version this process serves for the product."""
        return self._refresh(product_id).version

    def search(
        self,
        product_id: int,
        query: str,
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        filters: dict[str, Any] | None = None,
    ) -> tuple[str | None, list[ScoredChunk]]:
        """The served version and the top ``k`` chunks (none while the product has no index)."""
        entry = self._refresh(product_id)
        if entry.index is None:
            return entry.version, []
        start = time.perf_counter()
        hits = entry.index.search(query, k + len(entry.hidden), filters, mode=mode)
        if self.metrics:
            self.metrics.retrieval.labels(mode).observe(time.perf_counter() - start)
        visible = [h for h in hits if h.chunk.id not in entry.hidden][:k]
        ranked = [ScoredChunk(h.chunk, h.score, i, h.details) for i, h in enumerate(visible, 1)]
        return entry.version, ranked

    def status(self) -> str:
        """Readiness detail: what is loaded; raises when an index failed to load."""
        errors = [f"product {p}: {e.error}" for p, e in self._entries.items() if e.error]
        if errors:
            raise RuntimeError("; ".join(errors))
        loaded = {p: e.version for p, e in self._entries.items() if e.version}
        return f"{len(loaded)} product index(es) loaded" if loaded else "no index loaded yet"
