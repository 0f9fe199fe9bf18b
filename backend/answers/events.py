"""The typed events of one bot turn, in the order a turn produces them.

``AnswerPipeline.run`` yields :data:`PipelineEvent`: one ``Meta``, then ``Token``s (a generated
answer's only once each sentence was checked against the passages), a ``Replace`` (only when text
already streamed is not the answer: the generated answer was not grounded or looped, and the
extractive answer replaces it; or the guard's post-check changed it), an ``Error`` (only on a
generator failure: the text streamed so far is to be dropped and the fallback answer follows as
tokens), and ``Sources``. The caller persists the turn and then sends ``Done``, so a
:data:`TurnEvent` stream always ends with ``Done`` once the bot message is stored. Each wire
format has one adapter that matches on these types (``backend.answers.widget_wire``,
``backend.openai_api.wire``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Meta:
    """The gate's verdict and the route taken (first event of every turn)."""

    route: str
    intent: str | None = None
    confidence: float | None = None
    out_of_scope: bool | None = None
    reason: str = ""
    llm_available: bool = False
    model: str | None = None  # only on the ``llm`` route: the generator's model


@dataclass(frozen=True)
class Token:
    """A piece of the answer's text, to append to what was sent."""

    text: str


@dataclass(frozen=True)
class Replace:
    """The whole answer text, replacing what was streamed (the grounding check or the
    post-check did not let it stand)."""

    text: str


@dataclass(frozen=True)
class Sources:
    """The answer's sources (``grounding.source`` dicts; empty for fixed replies)."""

    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Error:
    """The generator failed; with ``discard_partial`` the text streamed so far is void and the
    fallback answer follows as new tokens."""

    code: str
    message: str
    discard_partial: bool = True


@dataclass(frozen=True)
class Done:
    """The turn is over and stored (``message_id`` is None when the bot stayed silent)."""

    message_id: int | None


PipelineEvent = Meta | Token | Replace | Sources | Error
TurnEvent = PipelineEvent | Done
