"""Chunking and fusion logic."""

from __future__ import annotations

import itertools

import pytest

from ml.rag.chunking import chunk_section, chunk_sections
from ml.rag.items import faq_item, humanize_category, passage_item
from ml.retrieval.fusion import reciprocal_rank_fusion, relative_score_fusion
from tests.fakes import CountingEmbedder

pytestmark = pytest.mark.unit


def test_short_section_is_one_passage() -> None:
    out = chunk_section(["Fees", "Cards"], "Replacement cards cost 5 EUR.")
    assert len(out) == 1 and out[0].heading_path == ("Fees", "Cards")


def test_long_section_splits_with_overlap_and_keeps_words_whole() -> None:
    paras = [f"Paragraph {i}. " + "word " * 40 for i in range(12)]
    out = chunk_section(["Guide"], "\n\n".join(paras), max_chars=500, overlap_chars=240)
    assert len(out) > 3
    assert all(len(p.text) <= 500 for p in out)
    for a, b in itertools.pairwise(out):
        assert a.text.splitlines()[-1] in b.text  # the last unit carries over
    joined = "\n".join(p.text for p in out)
    for i in range(12):
        assert f"Paragraph {i}." in joined


def test_monster_sentence_is_cut_at_spaces() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    out = chunk_section([], text, max_chars=300, overlap_chars=0)
    assert all(len(p.text) <= 300 for p in out)
    assert " ".join(p.text for p in out).split() == text.split()


def test_cjk_sentences_split() -> None:
    text = "这是第一句。" * 200
    out = chunk_section([], text, max_chars=200, overlap_chars=0)
    assert len(out) > 1 and all(len(p.text) <= 200 for p in out)


def test_empty_sections_dropped_and_bad_params_refused() -> None:
    assert chunk_sections([(["A"], "  "), (["B"], "text")])[0].heading_path == ("B",)
    with pytest.raises(ValueError):
        chunk_section([], "x", max_chars=50)
    with pytest.raises(ValueError):
        chunk_section([], "x", max_chars=200, overlap_chars=150)


def test_items() -> None:
    item = faq_item(
        chunk_id="1", question="Q?", answer="A.", alternatives=["q2", "q3"], category="card_arrival"
    )
    assert item.dense_views == ("Q?", "q2", "q3", "Q? A.", "card arrival")
    assert "card arrival" in item.lexical_text and item.chunk.metadata["kind"] == "faq"
    p = passage_item(chunk_id="2", text="body", heading_path=["Terms", "Cards"])
    assert p.chunk.title == "Terms > Cards" and p.dense_views == ("Terms > Cards\nbody",)
    assert humanize_category("reverted_card_payment?") == "reverted card payment"


def test_rrf() -> None:
    fused = reciprocal_rank_fusion({"a": [1, 2, 3], "b": [3, 1]}, k=1)
    assert [i for i, _ in fused] == [1, 3, 2]
    weighted = reciprocal_rank_fusion({"a": [1, 2], "b": [2, 1]}, k=1, weights={"a": 1.0, "b": 0.1})
    assert weighted[0][0] == 1
    only_a = reciprocal_rank_fusion({"a": [5], "b": [6]}, weights={"a": 1, "b": 0})
    assert [i for i, _ in only_a] == [5]
    with pytest.raises(ValueError):
        reciprocal_rank_fusion({"a": [1]}, k=0)


def test_score_fusion_keeps_margins_and_scales_bm25() -> None:
    # A near-tie in cosine is settled by the words; a clear dense winner stays first.
    fused = relative_score_fusion({1: 0.70, 2: 0.69}, {2: 8.0, 1: 2.0}, lexical_weight=0.1)
    assert [i for i, _ in fused] == [2, 1]
    assert fused[0][1] == pytest.approx(0.69 + 0.1) and fused[1][1] == pytest.approx(0.725)
    clear = relative_score_fusion({1: 0.90, 2: 0.60}, {2: 8.0}, lexical_weight=0.1)
    assert [i for i, _ in clear] == [1, 2]
    # BM25 is relative to the query's best score: doubling every BM25 score changes nothing.
    a = relative_score_fusion({1: 0.5, 2: 0.5, 3: 0.4}, {1: 1.0, 2: 3.0}, lexical_weight=0.2)
    b = relative_score_fusion({1: 0.5, 2: 0.5, 3: 0.4}, {1: 2.0, 2: 6.0}, lexical_weight=0.2)
    assert a == b
    # Lexical-only items count; no lexical hits, or zero scores, leave the dense order alone.
    assert dict(relative_score_fusion({1: 0.3}, {9: 4.0}))[9] == pytest.approx(0.1)
    assert relative_score_fusion({1: 0.2, 2: 0.4}, {}) == [(2, 0.4), (1, 0.2)]
    assert relative_score_fusion({1: 0.2, 2: 0.4}, {1: 0.0}) == [(2, 0.4), (1, 0.2)]
    with pytest.raises(ValueError):
        relative_score_fusion({1: 0.2}, {}, lexical_weight=-1)


def test_query_cache_embeds_a_repeated_query_once() -> None:
    from ml.embeddings.cache import QueryCache

    embedder = CountingEmbedder(dim=16)
    cache = QueryCache(embedder, size=2)
    first = cache.embed(["where is my card"])
    again = cache.embed(["where is my card"])
    assert (first == again).all() and embedder.calls == 1 and cache.hits == 1
    again[0, 0] = 99.0  # callers get copies: the cache cannot be corrupted
    assert cache.embed(["where is my card"])[0, 0] != 99.0
    cache.embed(["a"])
    cache.embed(["b"])  # evicts the oldest
    cache.embed(["where is my card"])
    assert embedder.calls == 4
    cache.embed(["x", "y"])  # batches are never cached
    cache.embed(["x", "y"])
    assert embedder.calls == 6 and cache.dim == 16
