"""BM25 over chunk texts with bm25s (English stemming and stopwords), persisted to a folder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from bm25s.tokenization import Tokenizer


def _tokenizer() -> Tokenizer:
    return Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en", lower=True)


class BM25Store:
    """Lexical index: ``search`` returns (item indices, scores) with positive scores only."""

    def __init__(self, retriever: bm25s.BM25 | None, tokenizer: Tokenizer, size: int) -> None:
        self._retriever = retriever
        self._tokenizer = tokenizer
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> BM25Store:
        """Index ``texts`` (one per item, in item order)."""
        tokenizer = _tokenizer()
        if not texts:  # a product whose last document was removed: an empty, valid index
            return cls(None, tokenizer, 0)
        ids = tokenizer.tokenize(
            list(texts), update_vocab=True, return_as="ids", show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(ids, show_progress=False)
        return cls(retriever, tokenizer, len(texts))

    def search(
        self, query: str, k: int, mask: npt.NDArray[np.bool_] | None = None
    ) -> tuple[list[int], list[float]]:
        """Top ``k`` items for ``query`` (restricted to ``mask`` when given), best first."""
        if self._retriever is None or self.size == 0 or k <= 0:
            return [], []
        q = self._tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False
        )
        weight_mask = None if mask is None else mask.astype(np.float32)
        docs, scores = self._retriever.retrieve(
            q, k=min(k, self.size), show_progress=False, n_threads=1, weight_mask=weight_mask
        )
        keep = scores[0] > 0
        return [int(d) for d in docs[0][keep]], [float(s) for s in scores[0][keep]]

    def save(self, folder: Path) -> None:
        """Write the index and its vocabulary into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "bm25_meta.json").write_text(json.dumps({"size": self.size}))
        if self._retriever is None:
            return
        self._retriever.save(str(folder / "bm25"))
        self._tokenizer.save_vocab(str(folder / "vocab"))
        self._tokenizer.save_stopwords(str(folder / "vocab"))

    @classmethod
    def load(cls, folder: Path) -> BM25Store:
        """Load what ``save`` wrote."""
        size = int(json.loads((folder / "bm25_meta.json").read_text())["size"])
        tokenizer = _tokenizer()
        if size == 0:
            return cls(None, tokenizer, 0)
        retriever = bm25s.BM25.load(str(folder / "bm25"))
        tokenizer.load_vocab(str(folder / "vocab"))
        tokenizer.load_stopwords(str(folder / "vocab"))
        return cls(retriever, tokenizer, size)
