"""Phase ``check`` of the grounding bench, per answer: the recorded raw generation replayed
through the pipeline's own ``GroundedStream`` (guard, sentence buffer, ``GroundingChecker`` with
the real ONNX query embedder, the repetition stop, ``judge``), then the pipeline's choice of what
is sent (``backend/answers/pipeline.py`` ``_generate``): the checked sentences, a refusal after a
system-prompt leak, or the extractive answer of the same hits (the fallback reply without one).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

from backend.answers import grounding
from backend.answers.generation import GroundedStream
from backend.answers.models import AssistantSettingsBase
from bench.grounding_gen import passages_of
from ml.generation.client import Finished, GenerationEvent, TextDelta
from ml.generation.prompt import Passage
from ml.interfaces import ChatMessage, Chunk, ScoredChunk

FAQ = Path(__file__).resolve().parents[1] / "data" / "demo" / "faq.jsonl"
GROUNDING_SETS = Path(__file__).resolve().parents[1] / "data" / "grounding"


class ReplayClient:
    """A ``ChatClient`` that streams a recorded answer, piece by piece as it arrived."""

    def __init__(self, pieces: Sequence[str], finish_reason: str | None, model: str) -> None:
        self.pieces, self.finish_reason, self._model = list(pieces), finish_reason, model

    @property
    def model(self) -> str:
        """The recorded generator's name."""
        return self._model

    async def stream_events(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        frequency_penalty: float | None = None,
        repetition_penalty: float | None = None,
    ) -> AsyncGenerator[GenerationEvent, None]:
        """The recorded pieces, then ``Finished``."""
        for piece in self.pieces:
            if piece:
                yield TextDelta(piece)
        yield Finished(self.finish_reason, None, None)

    async def health(self, timeout_s: float = 2.0) -> bool:
        """Always up."""
        return True

    async def aclose(self) -> None:
        """Nothing to close."""


def scored_hits(hits: list[dict[str, Any]]) -> list[ScoredChunk]:
    """Recorded hits as the ``ScoredChunk``s the pipeline had."""
    return [
        ScoredChunk(
            Chunk(h["chunk_id"], h["text"], h["title"], h["metadata"]),
            h["score"],
            h["rank"],
            h["details"],
        )
        for h in hits
    ]


def fallback_reply(config: AssistantSettingsBase, retrieved: grounding.Retrieved, name: str) -> str:
    """The fallback reply as ``AnswerPipeline._fixed_reply`` words it."""
    return config.fallback_reply.replace("{product}", name).replace(
        "{topics}", grounding.fallback_topics(retrieved)
    )


async def replay_answer(
    *,
    question: str,
    pieces: Sequence[str],
    passages: list[Passage],
    retrieved: grounding.Retrieved,
    config: AssistantSettingsBase,
    embed: Any,
    product_name: str,
    finish_reason: str | None = "stop",
    failed: bool = False,
) -> dict[str, Any]:
    """What the pipeline sends for this generation, and the check's record of it."""
    trace: dict[str, Any] = {}
    stream = GroundedStream(
        client=ReplayClient(pieces, finish_reason, "replay"),
        config=config,
        penalties={},
        embed=embed,
        passages=passages,
        trace=trace,
        latency={},
        started=time.perf_counter(),
    )
    if failed:  # the generator failed: the pipeline sends the extractive answer
        sent_by, text = "extractive", ""
    else:
        async for _ in stream.tokens(question, [], product_name):
            pass
        checked = stream.checked
        assert checked is not None
        if "system_prompt_leak" in checked.violations:
            sent_by, text = "refusal", checked.text
        elif stream.send:
            sent_by, text = "generator", stream.visible
        else:
            sent_by, text = "extractive", ""
    if sent_by == "extractive":
        found = grounding.extractive_answer(retrieved)
        if found is None:
            sent_by, text = "fallback", fallback_reply(config, retrieved, product_name)
        else:
            text = found[0]
    g = trace.get("grounding") or {}
    return {
        "sent_by": sent_by,
        "sent_text": text,
        "send": g.get("send"),
        "reason": g.get("reason"),
        "unsupported_share": g.get("unsupported_share"),
        "stopped": g.get("stopped"),
        "held": g.get("held") or [],
        "shown_text": g.get("shown_text", ""),
        "claims": [
            {k: c.get(k) for k in ("text", "is_claim", "similarity", "coverage", "reasons")}
            for c in g.get("claims") or []
        ],
        "check_ms": g.get("check_ms") or [],
        "setup_ms": g.get("setup_ms"),
        "repetition": (g.get("repetition") or {}),
    }


def rejected(out: dict[str, Any]) -> bool:
    """The check did not send the generator's text as is (replaced, or a sentence held)."""
    return out["sent_by"] != "generator" or bool(out["held"]) or bool(out["stopped"])


async def replay_record(
    row: dict[str, Any], config: AssistantSettingsBase, embed: Any, product_name: str
) -> dict[str, Any]:
    """``replay_answer`` of a generate-phase record (route ``llm``)."""
    hits = row["hits"]
    retrieved = grounding.Retrieved(
        "bench", scored_hits(hits), row.get("boosted_intent"), bool(row.get("confirmed"))
    )
    return await replay_answer(
        question=row["question"],
        pieces=row.get("pieces") or [row.get("raw_text") or ""],
        passages=passages_of(hits),
        retrieved=retrieved,
        config=config,
        embed=embed,
        product_name=product_name,
        finish_reason=row.get("finish_reason"),
        failed=bool(row.get("error")),
    )


def _faq() -> dict[str, dict[str, Any]]:
    rows = [json.loads(x) for x in FAQ.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {r["id"]: r for r in rows}


def load_sets(folder: Path = GROUNDING_SETS) -> dict[str, list[dict[str, Any]]]:
    """The hand-written sets, by file stem (``adversarial``, ``paraphrases``)."""
    if not folder.exists():
        return {}
    return {
        p.stem: [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
        for p in sorted(folder.glob("*.jsonl"))
    }


async def replay_item(
    item: dict[str, Any], config: AssistantSettingsBase, embed: Any, product_name: str
) -> dict[str, Any]:
    """An adversarial or paraphrase item: its ``answer`` as the generation, its passages the FAQ
    answers of ``faq_ids`` then ``extra_passages``, each a whole passage."""
    faq = _faq()
    texts: list[tuple[str, str, str]] = [
        (fid, str(faq[fid]["question"]), str(faq[fid]["answer"])) for fid in item.get("faq_ids", [])
    ]
    texts += [(f"extra-{i}", "", str(t)) for i, t in enumerate(item.get("extra_passages", []))]
    passages = [Passage(i, cid, title, text) for i, (cid, title, text) in enumerate(texts, 1)]
    hits = [
        ScoredChunk(Chunk(cid, text, title, {"kind": "faq", "answer": text}), 1.0, i, {})
        for i, (cid, title, text) in enumerate(texts, 1)
    ]
    question = str(item.get("question") or (texts[0][1] if texts else ""))
    words = str(item["answer"]).split(" ")
    pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    return await replay_answer(
        question=question,
        pieces=pieces,
        passages=passages,
        retrieved=grounding.Retrieved("bench", hits),
        config=config,
        embed=embed,
        product_name=product_name,
    )
