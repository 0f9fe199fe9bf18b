"""The contracts between ``ml`` components and their callers.

Modules of ``ml`` depend on these Protocols and dataclasses, not on each other's internals; the
backend depends on them too, so a component can be swapped (another embedder, another LLM server)
without touching its callers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
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


@runtime_checkable
class Retriever(Component, Protocol):
    """Finds the chunks most relevant to a query."""

    def search(
        self, query: str, k: int = 5, filters: Mapping[str, Any] | None = None
    ) -> list[ScoredChunk]:
        """The top ``k`` chunks for ``query``, best first, restricted by ``filters``."""
        ...


@runtime_checkable
class IntentClassifier(Component, Protocol):
    """Classifies messages into a product's intents with calibrated confidence."""

    @property
    def labels(self) -> Sequence[str]:
        """The intents this classifier knows."""
        ...

    def predict(self, text: str) -> IntentPrediction:
        """Classify one message."""
        ...

    def predict_batch(self, texts: Sequence[str]) -> list[IntentPrediction]:
        """Classify many messages at once."""
        ...


@runtime_checkable
class Generator(Protocol):
    """Streams a chat completion from an LLM server."""

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> AsyncIterator[str]:
        """Yield the answer's text pieces as they arrive; cancelling stops the upstream request."""
        ...
