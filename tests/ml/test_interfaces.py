"""The ml contracts and their fakes."""

from __future__ import annotations

import numpy as np
import pytest

from ml.interfaces import Embedder
from ml.testing.fakes import HashingEmbedder

pytestmark = pytest.mark.unit


def test_hashing_embedder_satisfies_protocol_and_is_deterministic() -> None:
    emb = HashingEmbedder(dim=32)
    assert isinstance(emb, Embedder)
    a = emb.embed(["lost my card", "card lost my", "weather today", ""])
    assert a.shape == (4, 32) and a.dtype == np.float32
    assert np.allclose(a[0], a[1])
    assert float(a[0] @ a[1]) > float(a[0] @ a[2])
    assert np.allclose(emb.embed(["lost my card"]), a[:1])
    assert not a[3].any()
    with pytest.raises(ValueError):
        HashingEmbedder(dim=2)
