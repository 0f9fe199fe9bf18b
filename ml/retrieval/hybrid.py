"""The per-product hybrid index: dense + BM25, fused by score (default) or by weighted reciprocal
rank, with a manifest.

Built in memory from index items, saved into a fresh folder that is renamed into place only when
complete (:func:`save_atomically`), so a reader never sees a half-written index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ml.interfaces import Chunk, Embedder, ScoredChunk, Vector
from ml.rag.items import IndexItem
from ml.retrieval.bm25 import BM25Store
from ml.retrieval.dense import DenseStore
from ml.retrieval.fusion import reciprocal_rank_fusion, relative_score_fusion

Mode = Literal["hybrid", "dense", "bm25"]
FusionMethod = Literal["score", "rrf"]
Progress = Callable[[float, str], None]
FORMAT = 1


@dataclass(frozen=True)
class FusionConfig:
    """How the two result lists are fused (defaults chosen on a dev split: see bench/README.md).

    ``score``: ``dense_weight * cosine + bm25_score_weight * bm25 / best bm25`` over the union of
    both candidate lists. ``rrf``: ``dense_weight / (rrf_k + dense rank) + bm25_weight /
    (rrf_k + bm25 rank)``.
    """

    method: FusionMethod = "score"
    rrf_k: float = 2.0
    dense_weight: float = 1.0
    bm25_weight: float = 0.5
    bm25_score_weight: float = 0.1
    candidates: int = 50  # how deep each method ranks before fusion

    def __post_init__(self) -> None:
        if self.method not in ("score", "rrf"):
            raise ValueError(f"unknown fusion method {self.method!r}: use 'score' or 'rrf'")
        if self.rrf_k <= 0 or self.candidates <= 0:
            raise ValueError("rrf_k and candidates must be positive")
        if min(self.dense_weight, self.bm25_weight, self.bm25_score_weight) < 0:
            raise ValueError("fusion weights must not be negative")


@dataclass(frozen=True)
class IndexManifest:
    """What an index folder holds and how it was made."""

    version: str
    created_at: str
    embedder: str
    dim: int
    n_items: int
    n_views: int
    data_hash: str
    fusion: dict[str, float] = field(default_factory=dict)
    format: int = FORMAT


def items_hash(items: Sequence[IndexItem]) -> str:
    """A content hash of the items: same knowledge, same hash."""
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps([item.chunk.id, item.dense_views, item.lexical_text]).encode())
    return h.hexdigest()[:16]


class HybridIndex:
    """Search a product's knowledge by dense, BM25 or fused ranking, with metadata filters."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        dense: DenseStore,
        bm25: BM25Store,
        embedder: Embedder,
        manifest: IndexManifest,
        fusion: FusionConfig,
        view_texts: Sequence[str] = (),
    ) -> None:
        self.chunks = list(chunks)
        self.view_texts = list(view_texts)  # aligned with the dense vectors (for reuse)
        self.dense = dense
        self.bm25 = bm25
        self.embedder = embedder
        self.manifest = manifest
        self.fusion = fusion

    @classmethod
    def build(
        cls,
        items: Sequence[IndexItem],
        embedder: Embedder,
        *,
        version: str,
        fusion: FusionConfig | None = None,
        progress: Progress | None = None,
        batch: int = 256,
        reuse: Mapping[str, Vector] | None = None,
    ) -> HybridIndex:
        """Embed every view (reporting progress 0-1) and build both indexes. Views found in
        ``reuse`` (text -> vector from the previous index, same embedder) are not embedded again."""
        fusion = fusion or FusionConfig()
        views = [v for item in items for v in item.dense_views]
        owners = np.asarray(
            [i for i, item in enumerate(items) for _ in item.dense_views], dtype=np.int64
        )
        dim = embedder.dim
        vectors = np.zeros((len(views), dim), dtype=np.float32)
        reuse = reuse or {}
        todo = [i for i, v in enumerate(views) if v not in reuse]
        for i, v in enumerate(views):
            if v in reuse:
                vectors[i] = reuse[v]
        for start in range(0, len(todo), batch):
            rows = todo[start : start + batch]
            vectors[rows] = embedder.embed([views[r] for r in rows])
            if progress:
                done = min(len(todo), start + batch)
                progress(done / len(todo), f"embedded {done}/{len(todo)} new texts")
        dense = DenseStore(vectors, owners, len(items))
        bm25 = BM25Store.build([item.lexical_text for item in items])
        manifest = IndexManifest(
            version=version,
            created_at=datetime.now(UTC).isoformat(),
            embedder=getattr(embedder, "name", type(embedder).__name__),
            dim=dim,
            n_items=len(items),
            n_views=len(views),
            data_hash=items_hash(items),
            fusion=asdict(fusion),
        )
        chunks = [item.chunk for item in items]
        return cls(chunks, dense, bm25, embedder, manifest, fusion, views)

    def reconfigured(
        self, *, fusion: FusionConfig | None = None, embedder: Embedder | None = None
    ) -> HybridIndex:
        """The same stored index (shared, not copied) searched with another fusion or another
        query embedder (one giving the same vectors, e.g. the ONNX export of the model)."""
        return HybridIndex(
            self.chunks,
            self.dense,
            self.bm25,
            embedder or self.embedder,
            self.manifest,
            fusion or self.fusion,
            self.view_texts,
        )

    def reusable_vectors(self, embedder_name: str) -> dict[str, Vector]:
        """Text -> vector of this index's views, if it was built with ``embedder_name``."""
        if embedder_name != self.manifest.embedder or len(self.view_texts) != len(
            self.dense.vectors
        ):
            return {}
        return dict(zip(self.view_texts, self.dense.vectors, strict=True))

    def warm_up(self) -> None:
        """Load the query embedder."""
        self.embedder.warm_up()

    def _mask(self, filters: Mapping[str, Any] | None) -> npt.NDArray[np.bool_] | None:
        if not filters:
            return None
        mask = np.ones(len(self.chunks), dtype=bool)
        for key, wanted in filters.items():
            if wanted is None:
                continue
            allowed = {wanted} if isinstance(wanted, str | int) else set(wanted)
            mask &= np.fromiter(
                (c.metadata.get(key) in allowed for c in self.chunks), bool, len(self.chunks)
            )
        return mask

    def search(
        self,
        query: str,
        k: int = 5,
        filters: Mapping[str, Any] | None = None,
        *,
        mode: Mode = "hybrid",
    ) -> list[ScoredChunk]:
        """The top ``k`` chunks for ``query``, best first; ``filters`` match chunk metadata
        (a value or a list of accepted values, e.g. ``{"category": ["card_arrival"]}``)."""
        if not query.strip() or k <= 0 or not self.chunks:
            return []
        mask = self._mask(filters)
        depth = max(k, self.fusion.candidates)
        dense_ids: list[int] = []
        dense_scores: list[float] = []
        bm25_ids: list[int] = []
        bm25_scores: list[float] = []
        if mode in ("hybrid", "dense"):
            q = self.embedder.embed([query])[0]
            dense_ids, dense_scores = self.dense.search(q, depth, mask)
        if mode in ("hybrid", "bm25"):
            bm25_ids, bm25_scores = self.bm25.search(query, depth, mask)
        d_by_id = dict(zip(dense_ids, dense_scores, strict=True))
        b_by_id = dict(zip(bm25_ids, bm25_scores, strict=True))
        if mode == "dense":
            ranked = list(zip(dense_ids, dense_scores, strict=True))
        elif mode == "bm25":
            ranked = list(zip(bm25_ids, bm25_scores, strict=True))
        elif self.fusion.method == "score":
            missing = [i for i in bm25_ids if i not in d_by_id]  # lexical-only candidates
            d_by_id.update(zip(missing, self.dense.score_items(q, missing), strict=True))
            ranked = relative_score_fusion(
                d_by_id,
                b_by_id,
                dense_weight=self.fusion.dense_weight,
                lexical_weight=self.fusion.bm25_score_weight,
            )
        else:
            ranked = reciprocal_rank_fusion(
                {"dense": dense_ids, "bm25": bm25_ids},
                k=self.fusion.rrf_k,
                weights={"dense": self.fusion.dense_weight, "bm25": self.fusion.bm25_weight},
            )
        hits = []
        for rank, (idx, score) in enumerate(ranked[:k], start=1):
            details = {"dense": d_by_id.get(idx, 0.0), "bm25": b_by_id.get(idx, 0.0)}
            hits.append(ScoredChunk(self.chunks[idx], float(score), rank, details))
        return hits

    def save(self, folder: Path) -> None:
        """Write every part and the manifest (last) into an empty ``folder``."""
        folder.mkdir(parents=True, exist_ok=False)
        self.dense.save(folder)
        self.bm25.save(folder)
        with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in self.chunks:
                row = {"id": c.id, "text": c.text, "title": c.title, "metadata": dict(c.metadata)}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        (folder / "views.json").write_text(json.dumps(self.view_texts, ensure_ascii=False))
        (folder / "manifest.json").write_text(json.dumps(asdict(self.manifest), indent=2))

    @classmethod
    def load(
        cls, folder: Path, embedder: Embedder, fusion: FusionConfig | None = None
    ) -> HybridIndex:
        """Load a saved index; refuses an incomplete folder (no manifest) or another format.
        ``fusion`` overrides the fusion recorded in the manifest (it is a query-time choice)."""
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{folder} has no manifest.json: not a complete index")
        raw = json.loads(manifest_path.read_text())
        manifest = IndexManifest(**raw)
        if manifest.format != FORMAT:
            raise ValueError(f"index format {manifest.format} is not {FORMAT}; rebuild the index")
        chunks = []
        with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                chunks.append(Chunk(row["id"], row["text"], row["title"], row["metadata"]))
        recorded = FusionConfig(**manifest.fusion)  # type: ignore[arg-type]
        views_path = folder / "views.json"
        views = json.loads(views_path.read_text()) if views_path.exists() else []
        return cls(
            chunks,
            DenseStore.load(folder, len(chunks)),
            BM25Store.load(folder),
            embedder,
            manifest,
            fusion or recorded,
            views,
        )


def save_atomically(index: HybridIndex, root: Path) -> Path:
    """Save under ``root/<version>`` via a temporary sibling folder renamed into place."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / index.manifest.version
    if final.exists():
        raise FileExistsError(f"index version {index.manifest.version} already exists")
    tmp = root / f".tmp-{index.manifest.version}-{uuid.uuid4().hex[:8]}"
    try:
        index.save(tmp)
        os.replace(tmp, final)  # atomic on one filesystem: readers see all or nothing
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
