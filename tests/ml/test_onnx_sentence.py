"""The ONNX query embedder: exported once, the same vectors as PyTorch, and PyTorch when the graph
cannot serve (parity failure, broken cached file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.core.settings import Settings
from backend.knowledge.indexing import embedder_for, query_embedder_for
from ml.embeddings.onnx_sentence import OnnxSentenceEmbedder
from ml.embeddings.sentence import SentenceEmbedder

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TEXTS = [
    "my card still hasnt arrived",
    "Why is there a 5 EUR charge on my statement from an ATM in Lisbon I used on Friday?",
    "top up",
    "x" * 3000,  # longer than the model's 256 tokens: truncated like sentence-transformers
]


@pytest.fixture(scope="module")
def reference() -> SentenceEmbedder:
    return SentenceEmbedder()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> OnnxSentenceEmbedder:
    embedder = OnnxSentenceEmbedder(cache_dir=tmp_path_factory.mktemp("onnx"))
    embedder.warm_up()
    return embedder


def test_onnx_vectors_match_pytorch(
    exported: OnnxSentenceEmbedder, reference: SentenceEmbedder
) -> None:
    assert exported.backend == "onnx"
    assert exported.parity_cosine >= 0.9999
    assert exported.name == reference.name and exported.dim == reference.dim
    expected = reference.embed(TEXTS)
    one_by_one = np.concatenate([exported.embed([t]) for t in TEXTS])
    batched = exported.embed(TEXTS)  # padded together: padding must not move the vectors
    for got in (one_by_one, batched):
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.min(np.sum(got * expected, axis=1)) > 0.9999
    assert exported.embed([]).shape == (0, reference.dim)


def test_graph_is_exported_once_and_reused(exported: OnnxSentenceEmbedder) -> None:
    path = exported.graph_path
    assert path.exists() and path.stat().st_size > 1_000_000
    stamp = path.stat().st_mtime_ns
    again = OnnxSentenceEmbedder(cache_dir=exported.cache_dir)
    again.warm_up()
    assert again.backend == "onnx" and again.graph_path == path
    assert path.stat().st_mtime_ns == stamp
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_parity_failure_serves_pytorch(
    exported: OnnxSentenceEmbedder, reference: SentenceEmbedder
) -> None:
    strict = OnnxSentenceEmbedder(cache_dir=exported.cache_dir, min_cosine=1.5)
    strict.warm_up()
    assert strict.backend == "torch"
    assert np.allclose(strict.embed(TEXTS[:2]), reference.embed(TEXTS[:2]), atol=1e-6)


def test_damaged_cached_graph_is_exported_again(
    tmp_path: Path, reference: SentenceEmbedder
) -> None:
    damaged = OnnxSentenceEmbedder(cache_dir=tmp_path)
    damaged.graph_path.parent.mkdir(parents=True)
    damaged.graph_path.write_bytes(b"not an onnx graph")
    damaged.warm_up()
    assert damaged.backend == "onnx"
    assert damaged.graph_path.stat().st_size > 1_000_000
    assert np.sum(damaged.embed(TEXTS[:1]) * reference.embed(TEXTS[:1])) > 0.9999


@pytest.mark.unit
def test_setting_chooses_the_query_embedder(tmp_path: Path) -> None:
    onnx = query_embedder_for(Settings(data_dir=tmp_path))
    assert isinstance(onnx, OnnxSentenceEmbedder)
    # one per model per process, sharing the PyTorch model of the indexing side
    assert query_embedder_for(Settings(data_dir=tmp_path / "other")) is onnx
    assert onnx.reference is embedder_for(onnx.reference.model_spec)
    torch = query_embedder_for(Settings(data_dir=tmp_path, query_embedder="torch"))
    assert isinstance(torch, SentenceEmbedder)
