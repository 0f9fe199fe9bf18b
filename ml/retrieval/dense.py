"""Dense retrieval over several embedded "views" per item (an FAQ's question, its alternative
phrasings, question+answer...). An item's score mixes its best view and the mean of its views:
the best view rewards an exact paraphrase, the mean rewards items that match from every angle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from ml.interfaces import Vector

IntArray = npt.NDArray[np.int64]


class DenseStore:
    """FAISS inner-product index over L2-normalised view vectors, with the view -> item map."""

    def __init__(self, vectors: Vector, owners: IntArray, n_items: int) -> None:
        if vectors.ndim != 2 or len(vectors) != len(owners):
            raise ValueError("vectors and owners must align")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.owners = owners.astype(np.int64)
        self.n_items = n_items
        self._index = faiss.IndexFlatIP(self.vectors.shape[1])
        if len(self.vectors):
            self._index.add(self.vectors)
        # Row ranges of each item's views (views of one item are contiguous).
        self._starts = np.searchsorted(self.owners, np.arange(n_items), side="left")
        self._ends = np.searchsorted(self.owners, np.arange(n_items), side="right")

    def search(
        self, query: Vector, k: int, mask: npt.NDArray[np.bool_] | None = None
    ) -> tuple[list[int], list[float]]:
        """Top ``k`` items for a normalised query vector, best first."""
        if self.n_items == 0 or k <= 0:
            return [], []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        n_views = len(self.vectors)
        # Candidate items come from the best views; over-fetch so filtering and grouping keep k.
        fetch = n_views if mask is not None else min(n_views, max(64, k * 16))
        _, rows = self._index.search(q, fetch)
        candidates: list[int] = []
        seen: set[int] = set()
        for row in rows[0]:
            if row < 0:
                continue
            item = int(self.owners[row])
            if item in seen or (mask is not None and not mask[item]):
                continue
            seen.add(item)
            candidates.append(item)
        scores = [self._item_score(q[0], item) for item in candidates]
        order = np.argsort(-np.asarray(scores), kind="stable")[:k]
        return [candidates[i] for i in order], [float(scores[i]) for i in order]

    def score_items(self, query: Vector, items: Sequence[int]) -> list[float]:
        """The item scores of ``items`` for a normalised query vector (any item, ranked or not)."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        return [self._item_score(q, item) for item in items]

    def _item_score(self, q: Vector, item: int) -> float:
        sims = self.vectors[self._starts[item] : self._ends[item]] @ q
        return float((sims.max() + sims.mean()) / 2)

    def save(self, folder: Path) -> None:
        """Write the FAISS index and the view -> item map."""
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(folder / "dense.faiss"))
        np.save(folder / "owners.npy", self.owners)

    @classmethod
    def load(cls, folder: Path, n_items: int) -> DenseStore:
        """Load what ``save`` wrote (the flat index gives back its exact vectors)."""
        index = faiss.read_index(str(folder / "dense.faiss"))
        vectors = (
            index.reconstruct_n(0, index.ntotal)
            if index.ntotal
            else np.zeros((0, index.d), dtype=np.float32)
        )
        return cls(np.asarray(vectors, dtype=np.float32), np.load(folder / "owners.npy"), n_items)
