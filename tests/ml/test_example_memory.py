"""The example memory's arithmetic: the PyTorch module (the model's own graph) and the numpy
reader (the shared-encoder path) agree, the memory pulls a message towards the intent of the
examples it resembles, and it survives a save and a load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ml.intent.example_memory import (
    MEMORY_FILE,
    ExampleMemory,
    MemoryConfig,
    MemoryReader,
    load_memory,
    load_reader,
    save_memory,
)

pytestmark = pytest.mark.unit


def _unit(rows: np.ndarray) -> np.ndarray:
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    vectors = _unit(rng.normal(size=(40, 16)))
    labels = rng.integers(0, 5, size=40)
    queries = _unit(rng.normal(size=(7, 16)))
    head = rng.normal(size=(7, 5)).astype(np.float32)
    return vectors, labels, queries, head


def test_torch_module_and_numpy_reader_give_the_same_logits(data: tuple) -> None:
    vectors, labels, queries, head = data
    config = MemoryConfig(temperature=0.05, weight=0.3)
    module = ExampleMemory(vectors, labels, 5, config)
    with torch.no_grad():
        expected = module(torch.from_numpy(queries), torch.from_numpy(head)).numpy()
    got = MemoryReader(vectors, labels, 5, config).mix(queries, head)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_the_memory_pulls_a_message_towards_the_examples_it_resembles(data: tuple) -> None:
    vectors, labels, _, _ = data
    reader = MemoryReader(vectors, labels, 5, MemoryConfig())
    flat = np.zeros((1, 5), dtype=np.float32)  # a head with no opinion
    for i in range(0, 40, 7):
        mixed = reader.mix(vectors[i : i + 1], flat)
        assert int(mixed.argmax()) == int(labels[i])
    # a head that is sure enough still wins: the memory only weighs 0.4
    sure = np.full((1, 5), -20.0, dtype=np.float32)
    other = (int(labels[0]) + 1) % 5
    sure[0, other] = 20.0
    assert int(reader.mix(vectors[:1], sure).argmax()) == other


def test_weight_zero_is_the_head_alone_up_to_a_constant(data: tuple) -> None:
    vectors, labels, queries, head = data
    mixed = MemoryReader(vectors, labels, 5, MemoryConfig(weight=0.0)).mix(queries, head)
    shift = head - mixed
    np.testing.assert_allclose(shift, shift[:, :1].repeat(5, axis=1), atol=1e-5)


def test_save_and_load_round_trip(tmp_path: Path, data: tuple) -> None:
    vectors, labels, queries, head = data
    config = MemoryConfig(temperature=0.02, weight=0.35, floor=1e-3)
    save_memory(ExampleMemory(vectors, labels, 5, config), tmp_path)
    assert (tmp_path / MEMORY_FILE).exists()
    module = load_memory(tmp_path, 5)
    reader = load_reader(tmp_path, 5)
    assert module is not None and reader is not None
    assert module.config == config == reader.config
    with torch.no_grad():
        expected = module(torch.from_numpy(queries), torch.from_numpy(head)).numpy()
    np.testing.assert_allclose(reader.mix(queries, head), expected, rtol=1e-5, atol=1e-5)
    assert load_memory(tmp_path / "missing", 5) is None
    assert load_reader(tmp_path / "missing", 5) is None


def test_bad_settings_and_labels_are_refused(data: tuple) -> None:
    vectors, labels, _, _ = data
    for bad in ({"weight": 1.0}, {"weight": -0.1}, {"temperature": 0.0}, {"floor": 0.0}):
        with pytest.raises(ValueError, match="memory"):
            MemoryConfig(**bad)
    with pytest.raises(ValueError, match="class ids"):
        MemoryReader(vectors, labels + 5, 5, MemoryConfig())
    with pytest.raises(ValueError, match="one embedding"):
        ExampleMemory(vectors[:3], labels, 5, MemoryConfig())
