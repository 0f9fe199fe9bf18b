"""The contracts between ``ml`` components and their callers.

Modules of ``ml`` depend on these dataclasses and on the ``Embedder`` Protocol (which every
retrieval index, the query cache and the intent models' encoder sharing take as a parameter, so
mypy checks each real embedder against it), not on each other's internals. Other components are
consumed through the Protocol of their caller, next to it: the answer pipeline's generator client
is ``backend.answers.llm.ChatClient``, its knowledge ``backend.answers.grounding.Searcher``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Chunk:
    """A unit of knowledge to retrieve: a whole FAQ entry or a piece of a longer document."""

    id: str
    text: str
    title: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its score (higher is better) and its rank (1 = best)."""

    chunk: Chunk
    score: float
    rank: int
    details: Mapping[str, float] = field(default_factory=dict)  # e.g. per-method scores


@dataclass(frozen=True)
class IntentPrediction:
    """The intent gate's verdict on one message."""

    intent: str
    confidence: float  # calibrated probability of ``intent``
    is_out_of_scope: bool
    top_k: Sequence[tuple[str, float]] = ()
    # the fast model's verdict when it was unsure and a second opinion replaced it
    first_opinion: IntentPrediction | None = None


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt (OpenAI roles: system, user, assistant)."""

    role: str
    content: str


@runtime_checkable
class Component(Protocol):
    """Heavy loading happens in ``warm_up``, never in the constructor or at import."""

    def warm_up(self) -> None:
        """Load models/indexes; idempotent."""
        ...


@runtime_checkable
class Embedder(Component, Protocol):
    """Turns texts into L2-normalised vectors of a fixed dimension."""

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed ``texts`` as a ``(len(texts), dim)`` float32 array."""
        ...
