"""Phase ``generate`` of the grounding bench: the production decision for each query, then the
generator's raw answer for those that reach it.

The decision is the pipeline's own, step by step, in this process and on the bench world's data
(``backend/answers/pipeline.py`` ``run``/``_decide``/``_answer``): the language check, the
product's active intent model (the API's ``IntentRuntime``), ``policy_decision``,
``grounding.retrieve`` with the intent boost, ``grounding.apply_floor``. The fast path is off
(its thresholds are 1.0), so every answered query goes to the generator; the others are recorded
with their route. The prompt is ``build_prompt`` with the pipeline's arguments; the request is
``OpenAIChatClient.stream_events`` with the product's ``max_answer_tokens``, temperature 0 and
the given penalties, read to the end (the offline check replays the stream: ``grounding_replay``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.answers import grounding, language, rules
from backend.answers.gate import language_decision, policy_decision
from backend.answers.models import AssistantSettingsBase
from backend.answers.policy import Route
from backend.conversations.models import ConversationStatus
from bench import chat_setup as setup
from bench.grounding_data import Query, RecordWriter, read_records
from ml.generation.client import Finished, OpenAIChatClient, TextDelta
from ml.generation.errors import GeneratorError
from ml.generation.prompt import Passage, build_prompt
from ml.interfaces import ChatMessage

FAST_PATH_OFF = {"fast_path_min_confidence": 1.0, "fast_path_min_similarity": 1.0}
READY_FILE = Path("/tmp/dp/generations_ready")
READY_AFTER = 150


def bench_config(**overrides: Any) -> AssistantSettingsBase:
    """The product's default answer settings, fast path off (forced through the generator)."""
    return AssistantSettingsBase(**{**FAST_PATH_OFF, **overrides})


def hit_record(h: Any) -> dict[str, Any]:
    """A retrieved passage as stored: enough to rebuild the ``ScoredChunk`` offline."""
    return {
        "chunk_id": h.chunk.id,
        "rank": h.rank,
        "score": round(float(h.score), 6),
        "dense": round(float(h.details.get("dense", 0.0)), 5),
        "details": {k: round(float(v), 6) for k, v in h.details.items()},
        "category": h.chunk.metadata.get("category"),
        "kind": h.chunk.metadata.get("kind"),
        "title": h.chunk.title,
        "text": h.chunk.text,
        "metadata": dict(h.chunk.metadata),
    }


class Decider:
    """The pipeline's decision and prompt for a new conversation's first message."""

    def __init__(self, settings: Any, product: setup.Product, config: AssistantSettingsBase):
        self.preview = setup.PromptPreview(settings)  # the API's intent and knowledge runtimes
        self.product, self.config = product, config
        language.warm_up()

    def decide(self, q: Query) -> dict[str, Any]:
        """The record of ``q`` before generation: prediction, route, hits, prompt."""
        cfg, product, text = self.config, self.product, q.text.strip()
        bot = ConversationStatus.bot
        row: dict[str, Any] = {"id": q.id, "split": q.split, "question": text, "intent": q.intent}
        check = language.check_language(text)
        row["language"] = check.trace()
        if not check.supported:
            decision, _ = language_decision(bot, text, check, product.name)
            return {**row, "prediction": None, "route": decision.route.value, "hits": []}
        version, pred = self.preview.intents.predict(product.id, text)
        rule = rules.match(text, product_name=product.name) if pred is None else None
        decision = policy_decision(cfg, bot, pred, rule=rule)
        retrieved = grounding.Retrieved(None)
        floor: dict[str, Any] | None = None
        if decision.route in (Route.answer, Route.fallback):
            retrieved = grounding.retrieve(
                self.preview.knowledge,
                product_id=product.id,
                query=text,
                prediction=pred,
                min_confidence=cfg.min_confidence,
            )
            if retrieved.confirmed and decision.route == Route.fallback:
                decision = policy_decision(cfg, bot, pred, confirmed=True)
            decision, floor = grounding.apply_floor(decision, retrieved, pred, cfg)
        if decision.route != Route.answer:
            route = decision.route.value
        elif grounding.fast_path_hit(retrieved, pred, cfg) is not None:
            route = "fast_path"  # not with the fast path off; kept honest all the same
        else:
            route = "llm" if retrieved.hits else "fallback"
        row.update(
            intent_model=version,
            prediction=None
            if pred is None
            else {
                "intent": pred.intent,
                "confidence": round(pred.confidence, 5),
                "out_of_scope": pred.is_out_of_scope,
            },
            decision={"route": decision.route.value, "reason": decision.reason},
            route=route,
            floor=floor,
            boosted_intent=retrieved.boosted_intent,
            confirmed=retrieved.confirmed,
            hits=[hit_record(h) for h in retrieved.hits],
        )
        if route == "llm":
            row["prompt"] = [
                {"role": m.role, "content": m.content} for m in self.prompt(text, row["hits"])
            ]
        return row

    def prompt(self, question: str, hits: list[dict[str, Any]]) -> list[ChatMessage]:
        """The messages ``GroundedStream`` sends for these passages (no history)."""
        passages = passages_of(hits)
        return build_prompt(
            question=question,
            passages=passages,
            history=[],
            product_name=self.product.name,
            persona=self.config.persona or None,
            token_budget=self.config.prompt_token_budget,
        ).messages


def passages_of(hits: list[dict[str, Any]]) -> list[Passage]:
    """The numbered passages of recorded hits, as the pipeline makes them."""
    return [
        Passage(i, h["chunk_id"], h["title"], h["text"], h["metadata"].get("url"))
        for i, h in enumerate(hits, 1)
    ]


async def generate_one(
    client: OpenAIChatClient, row: dict[str, Any], opts: dict[str, Any]
) -> dict[str, Any]:
    """Send the recorded prompt; add the raw answer, its pieces and its timings to ``row``."""
    messages = [ChatMessage(m["role"], m["content"]) for m in row["prompt"]]
    pieces: list[str] = []
    fin = Finished(None, None, None)
    ttft, started = None, time.perf_counter()
    try:
        async for event in client.stream_events(
            messages,
            max_tokens=opts["max_tokens"],
            frequency_penalty=opts["frequency_penalty"],
            repetition_penalty=opts["repetition_penalty"],
        ):
            if isinstance(event, TextDelta):
                ttft = ttft if ttft is not None else (time.perf_counter() - started) * 1000
                pieces.append(event.text)
            else:
                fin = event
        error = None
    except GeneratorError as exc:
        error = f"{type(exc).__name__}: {exc}"
    total = (time.perf_counter() - started) * 1000
    return {
        **row,
        "generator": client.model,
        "sampling": {k: opts[k] for k in ("max_tokens", "frequency_penalty", "repetition_penalty")},
        "raw_text": "".join(pieces),
        "pieces": pieces,
        "finish_reason": fin.finish_reason,
        "prompt_tokens": fin.prompt_tokens,
        "completion_tokens": fin.completion_tokens,
        "ttft_ms": None if ttft is None else round(ttft, 1),
        "total_ms": round(total, 1),
        "concurrency": opts["concurrency"],
        "error": error,
    }


def done(row: dict[str, Any]) -> bool:
    """A record needs no more work: not for the generator, or generated without an error."""
    return row.get("route") != "llm" or ("raw_text" in row and not row.get("error"))


async def run_split(
    decider: Decider,
    queries: list[Query],
    path: Path,
    client: OpenAIChatClient,
    opts: dict[str, Any],
    on_progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Decide and generate every query of ``queries`` not done in ``path`` yet (appending),
    ``opts['concurrency']`` requests at a time; returns all the file's records."""
    have = {r["id"]: r for r in read_records(path)}
    todo = [q for q in queries if not (q.id in have and done(have[q.id]))]
    writer = RecordWriter(path)
    rows = [decider.decide(q) for q in todo]
    for row in rows:
        if row["route"] != "llm":
            writer.write(row)
    llm = [r for r in rows if r["route"] == "llm"]
    print(
        f"  {path.name}: {len(queries)} queries, {len(queries) - len(todo)} done before, "
        f"{len(rows) - len(llm)} not for the generator, {len(llm)} to generate",
        flush=True,
    )
    sem, count, t0 = asyncio.Semaphore(opts["concurrency"]), 0, time.perf_counter()

    async def one(row: dict[str, Any]) -> None:
        nonlocal count
        async with sem:
            out = await generate_one(client, row, opts)
        writer.write(out)
        count += 1
        if out["error"]:
            print(f"  {row['id']}: {out['error']}", flush=True)
        if count % 16 == 0 or count == len(llm):
            print(f"  {count}/{len(llm)} generated ({time.perf_counter() - t0:.0f} s)", flush=True)
        if on_progress is not None:
            on_progress(count, len(llm))

    try:
        await asyncio.gather(*(one(r) for r in llm))
    finally:
        writer.close()
        await client.aclose()
    return read_records(path)


def mark_ready(path: Path, generated: int, total: int) -> None:
    """Tell the labelling helper where the raw test answers are, once enough exist."""
    ready = READY_FILE.parent.exists() and not READY_FILE.exists()
    if ready and generated >= min(READY_AFTER, total):
        READY_FILE.write_text(f"{path}\n")
        print(f"  wrote {READY_FILE} ({generated} generations)", flush=True)
