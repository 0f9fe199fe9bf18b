"""The visitor's side of the chat benchmark: widget conversations over HTTP, answers timed as the
widget sees them (SSE), the open-loop load generator, direct requests to the vLLM server that
the LLM phase compares deskpilot with, and the phases' drivers (records only; ``bench/chat.py``
turns them into figures).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import chat_setup as setup

ORIGIN = setup.ORIGIN
# routes that answer from the knowledge
ANSWERED = ("fast_path", "extractive", "llm", "llm_replaced")
WIDGET = "/api/v1/widget/conversations"
# vLLM busy-polls its worker queue for 1 s after each request (shm_broadcast ``busy_loop_s``),
# a whole core; on 2 cores that slows the API's next request, so timed requests wait it out.
VLLM_SETTLE_S = 1.2


@dataclass
class Turn:
    """One answer as the visitor saw it; times in ms from sending the request."""

    ok: bool = False
    route: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    message_id: int | None = None
    ttft_ms: float | None = None  # first ``token`` event
    done_ms: float | None = None  # ``done`` event
    text: str = ""
    error: str | None = None
    lag_ms: float = 0.0  # open loop: how late the request left against its schedule


async def start_conversation(
    client: httpx.AsyncClient, base: str, site_key: str
) -> tuple[int, str]:
    """A new widget conversation: (conversation id, visitor token)."""
    r = await client.post(
        f"{base}{WIDGET}", json={"site_key": site_key}, headers={"Origin": ORIGIN}
    )
    r.raise_for_status()
    data = r.json()
    return int(data["conversation"]["id"]), str(data["visitor_token"])


async def ask_json(
    client: httpx.AsyncClient, base: str, site_key: str, text: str
) -> dict[str, Any]:
    """One question in a new conversation, answered as one JSON document (``?stream=false``);
    adds ``latency_ms`` (the message request only, not the conversation's creation)."""
    conv, token = await start_conversation(client, base, site_key)
    started = time.perf_counter()
    r = await client.post(
        f"{base}{WIDGET}/{conv}/messages",
        params={"stream": "false"},
        json={"text": text},
        headers={"Origin": ORIGIN, "X-Deskpilot-Visitor": token},
    )
    latency = (time.perf_counter() - started) * 1000
    if r.status_code != 200:
        return {"error": f"HTTP {r.status_code}: {r.text[:200]}", "latency_ms": latency}
    return {**r.json(), "latency_ms": latency}


async def sse_turn(
    client: httpx.AsyncClient,
    base: str,
    conversation: tuple[int, str],
    text: str,
) -> Turn:
    """Send a message and read the SSE answer to ``done``."""
    conv, token = conversation
    turn = Turn()
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST",
            f"{base}{WIDGET}/{conv}/messages",
            json={"text": text},
            headers={"Origin": ORIGIN, "X-Deskpilot-Visitor": token},
        ) as r:
            if r.status_code != 200:
                turn.error = f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"
                return turn
            event = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                    continue
                if not line.startswith("data:"):
                    continue
                data = json.loads(line[5:])
                now = (time.perf_counter() - started) * 1000
                if event == "meta":
                    turn.meta, turn.route = data, data.get("route")
                elif event == "token":
                    turn.ttft_ms = now if turn.ttft_ms is None else turn.ttft_ms
                    turn.text += data.get("text", "")
                elif event == "replace":
                    turn.text = data.get("text", "")
                elif event == "error":
                    turn.error, turn.text = f"error event: {data.get('code')}", ""
                elif event == "done":
                    turn.done_ms, turn.message_id = now, data.get("message_id")
                    turn.ok = turn.error is None
                    return turn
            turn.error = turn.error or "stream ended without done"
    except httpx.HTTPError as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
    return turn


async def open_loop(
    base: str,
    site_key: str,
    texts: list[str],
    *,
    visitors: int = 20,
    interval_s: float = 2.0,
    duration_s: float = 60.0,
) -> tuple[list[Turn], float]:
    """Open-loop load: ``visitors`` conversations, each sending a message every ``interval_s``
    (starts staggered evenly over one interval) for ``duration_s``. Every request leaves at its
    scheduled time whether or not earlier answers came back. Returns the turns and the wall time
    from the first send to the last answer."""
    limits = httpx.Limits(max_connections=visitors * 8, max_keepalive_connections=visitors * 8)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        convs = [await start_conversation(client, base, site_key) for _ in range(visitors)]
        schedule = sorted(
            (v * interval_s / visitors + k * interval_s, v)
            for v in range(visitors)
            for k in range(int(duration_s / interval_s) + 1)
            if v * interval_s / visitors + k * interval_s < duration_s
        )
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.2

        async def one(v: int, text: str, due: float) -> Turn:
            lag = (loop.time() - due) * 1000
            turn = await sse_turn(client, base, convs[v], text)
            turn.lag_ms = lag
            return turn

        tasks = []
        for (offset, v), text in zip(schedule, itertools.cycle(texts), strict=False):
            due = t0 + offset
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(v, text, due)))
        turns = list(await asyncio.gather(*tasks))
        return turns, loop.time() - t0


async def direct_ttft(
    client: httpx.AsyncClient,
    vllm_url: str,
    model: str,
    messages: list[dict[str, str]],
    max_tokens: int,
) -> float | None:
    """Time to the first text chunk of a streamed ``/v1/chat/completions`` request made with
    the payload deskpilot's client sends (temperature 0); the stream is closed after it."""
    payload = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    async with client.stream(
        "POST",
        f"{vllm_url}/v1/chat/completions",
        json=payload,
        headers={"Accept": "text/event-stream"},
    ) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            choices = chunk.get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                return (time.perf_counter() - started) * 1000
    return None


async def vllm_busy(client: httpx.AsyncClient, vllm_url: str) -> float:
    """Requests the vLLM server is running or holding (from its Prometheus metrics)."""
    r = await client.get(f"{vllm_url}/metrics", timeout=5)
    busy = 0.0
    for line in r.text.splitlines():
        if line.startswith(("vllm:num_requests_running", "vllm:num_requests_waiting")):
            busy += float(line.rsplit(" ", 1)[1])
    return busy


async def wait_idle(
    client: httpx.AsyncClient, vllm_url: str, timeout_s: float = 10.0, settle_s: float = 0.0
) -> bool:
    """Wait until vLLM has run nothing for ``settle_s`` (a stream closed early may still be
    finishing; see ``VLLM_SETTLE_S``), so the next timed request neither queues nor shares the
    CPU; False when it stayed busy for ``timeout_s`` (someone else's requests)."""
    deadline, idle_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            busy = await vllm_busy(client, vllm_url)
        except (httpx.HTTPError, ValueError):
            return False
        now = time.monotonic()
        idle_since = (idle_since or now) if busy == 0 else None
        if idle_since is not None and now - idle_since >= settle_s:
            return True
        await asyncio.sleep(0.05)
    return False


# --- phase drivers ---------------------------------------------------------------------------


def _top(trace: dict[str, Any]) -> dict[str, Any]:
    """The trace's best retrieval hit ({} when nothing was retrieved)."""
    hits: list[dict[str, Any]] = (trace.get("retrieval") or {}).get("hits") or [{}]
    return hits[0]


async def routing_records(
    base: str, settings: Any, product: setup.Product, queries: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Phase 1: each query in a new conversation, ``?stream=false``, one at a time: the gate's
    verdict, the route, the answer's source and, from the stored trace, the top retrieval hit
    and the latency of each stage."""
    rows: list[dict[str, Any]] = []
    ids: list[int | None] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        for text, _ in queries[:3]:  # warm-up: the index loads on the first search
            await ask_json(client, base, product.site_key, text)
        for i, (text, label) in enumerate(queries, 1):
            r = await ask_json(client, base, product.site_key, text)
            meta, sources = r.get("meta") or {}, r.get("sources") or []
            first = sources[0]["chunk_id"] if sources else None
            route, category = meta.get("route") or "error", product.chunk_category.get(first or "")
            ids.append((r.get("message") or {}).get("id"))
            rows.append(
                {
                    "text": text,
                    "label": label,
                    "route": route,
                    **{k: meta.get(k) for k in ("intent", "confidence", "out_of_scope")},
                    "source_chunk": first,
                    "source_category": category,
                    "correct": route in ANSWERED and category == label,
                    "client_ms": round(r["latency_ms"], 2),
                    "error": r.get("error"),
                }
            )
            if i % 250 == 0 or i == len(queries):
                el = time.perf_counter() - started
                print(
                    f"  {i}/{len(queries)} ({el:.0f} s, {1000 * el / i:.0f} ms/query)", flush=True
                )
    traces = setup.read_traces(settings, [m for m in ids if m])
    for row, mid in zip(rows, ids, strict=True):
        trace = traces.get(mid or -1, {})
        top = _top(trace)
        row.update({f"top_{k}": top.get(k) for k in ("chunk_id", "category", "kind", "dense")})
        retrieval = trace.get("retrieval") or {}
        row["boosted"] = retrieval.get("boosted_intent") is not None
        row["confirmed"] = bool(retrieval.get("confirmed"))
        row["second_opinion"] = bool((trace.get("intent") or {}).get("first_opinion"))
        row["stages"] = trace.get("latency_ms") or {}
    return rows


async def fast_path_load(
    base: str, settings: Any, product: setup.Product, texts: list[str], **load: float
) -> tuple[list[Turn], float, list[dict[str, float]]]:
    """Phase 2: warm up, then the open loop (``load``: visitors, interval_s, duration_s); the
    turns, the wall time and the stored stage latencies of the answers."""
    async with httpx.AsyncClient(timeout=30) as client:  # warm-up, not measured
        conv = await start_conversation(client, base, product.site_key)
        for text in texts[:10]:
            await sse_turn(client, base, conv, text)
    turns, wall = await open_loop(
        base,
        product.site_key,
        texts,
        visitors=int(load["visitors"]),
        interval_s=load["interval_s"],
        duration_s=load["duration_s"],
    )
    traces = setup.read_traces(settings, [t.message_id for t in turns if t.ok and t.message_id])
    return turns, wall, [tr.get("latency_ms") or {} for tr in traces.values()]


def llm_candidates(
    queries: list[tuple[str, str]], routed: set[str], seed: int, limit_intents: int | None
) -> list[tuple[str, list[tuple[str, bool]]]]:
    """Per intent, its queries in the order the LLM phase tries them: first those that phase 1
    routed to the LLM path (``routed``), then the others; shuffled with a fixed seed."""
    by_intent: dict[str, set[str]] = defaultdict(set)
    for text, label in queries:
        by_intent[label].add(text)
    rng, out = random.Random(seed), []
    for intent in sorted(by_intent)[: limit_intents or None]:
        texts = sorted(by_intent[intent])
        rng.shuffle(texts)
        out.append((intent, [(t, t in routed) for t in texts if t in routed]))
        out[-1][1].extend((t, False) for t in texts if t not in routed)
    return out


async def reset_cache(client: httpx.AsyncClient, vllm: str) -> bool | None:
    """Empty vLLM's prefix cache: None where the server lacks the (dev) endpoint, else whether
    it worked (it fails while blocks are held, e.g. by a request still finishing)."""
    try:
        r = await client.post(f"{vllm}/reset_prefix_cache", timeout=10)
    except httpx.HTTPError:
        return None
    return bool(r.json().get("success")) if r.status_code == 200 else None


async def llm_records(
    base: str,
    vllm: str,
    model: str,
    product: setup.Product,
    candidates: list[tuple[str, list[tuple[str, bool]]]],
    preview: setup.PromptPreview,
    opts: dict[str, Any],
) -> list[dict[str, Any]]:
    """Phase 3, one request at a time on an idle server. Per query the prompt is computed first
    in this process with the product's own code (``preview``), so either request of a pair can
    go first (alternating): deskpilot's (the visitor's request, read to ``done``) and the same
    prompt sent straight to vLLM (read to its first token). Before each, vLLM's prefix cache is
    emptied and only the system prompt is cached again, as for a new question in production;
    without the reset endpoint (another's server) the whole prompt is cached before each."""
    rows: list[dict[str, Any]] = []
    faq, max_tokens, started = product.faq_chunk, int(opts["max_tokens"]), time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as client:
        cold = await reset_cache(client, vllm) is not None
        print(f"  prefix cache: {'reset before each request' if cold else 'warm (no reset)'}")

        async def prepare(messages: list[dict[str, str]]) -> bool:
            """Idle server, cold cache but for the system prompt (or all warm); False if not."""
            ok = await wait_idle(client, vllm)
            for _ in range(20 if cold else 0):
                if await reset_cache(client, vllm):
                    break
                await asyncio.sleep(0.1)
            else:
                ok = ok and not cold
            primer = [*messages[:1], {"role": "user", "content": "Hello"}] if cold else messages
            await direct_ttft(client, vllm, model, primer, 1)
            return await wait_idle(client, vllm, settle_s=VLLM_SETTLE_S) and ok

        warm = await start_conversation(client, base, product.site_key)
        await sse_turn(client, base, warm, candidates[0][1][0][0])  # warm-up, not measured
        for n_intent, (intent, tries) in enumerate(candidates, 1):
            got = 0
            for text, was_routed in tries[: int(opts["per_intent"]) + int(opts["max_skips"])]:
                if got >= opts["per_intent"]:
                    break
                messages = preview.messages(product, opts["config"], text)
                if messages is None:
                    rows.append({"text": text, "label": intent, "skipped": "not routed to the LLM"})
                    continue
                done = sum("skipped" not in r for r in rows)  # alternate over answered pairs
                order = ("deskpilot", "direct") if done % 2 == 0 else ("direct", "deskpilot")
                turn, direct, idle = Turn(), None, True
                for who in order:
                    idle = await prepare(messages) and idle
                    if who == "direct":
                        direct = await direct_ttft(client, vllm, model, messages, max_tokens)
                    else:
                        conv = await start_conversation(client, base, product.site_key)
                        turn = await sse_turn(client, base, conv, text)
                if turn.route != "llm" or turn.message_id is None:
                    rows.append({"text": text, "label": intent, "skipped": turn.route or "error"})
                    continue
                got += 1
                trace = setup.read_traces(opts["settings"], [turn.message_id])[turn.message_id]
                gen, cited = trace.get("generator") or {}, list(trace.get("cited") or [])
                attributed = list(trace.get("attributed") or [])
                rows.append(
                    {
                        "text": text,
                        "label": intent,
                        "phase1_llm_route": was_routed,
                        **{k: turn.meta.get(k) for k in ("intent", "confidence", "out_of_scope")},
                        "ttft_ms": turn.ttft_ms,
                        "done_ms": turn.done_ms,
                        "direct_ttft_ms": direct,
                        "prompt_match": gen.get("prompt") == messages,
                        "order": f"{order[0]}_first",
                        "cache": "cold" if cold else "warm",
                        "idle": idle,
                        "stages": trace.get("latency_ms") or {},
                        "cited": cited,
                        "attributed": attributed,
                        # what the visitor is shown as the answer's source: the passages the model
                        # cited, else those its sentences were attributed to (word overlap)
                        "correct": faq.get(intent) in (cited or attributed),
                        "correct_model_cited": faq.get(intent) in cited,
                        "error": turn.error,
                        "route_after_error": trace.get("route_after_error"),
                        **{k: gen.get(k) for k in ("completion_tokens", "prompt_tokens")},
                        **{f"top_{k}": _top(trace).get(k) for k in ("category", "kind", "dense")},
                        "answer": turn.text,
                    }
                )
            el = time.perf_counter() - started
            print(
                f"  {n_intent}/{len(candidates)} {intent}: {got} answered ({el:.0f} s)", flush=True
            )
    return rows
