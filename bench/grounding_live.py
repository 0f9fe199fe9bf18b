"""Phase ``live`` of the grounding bench: test queries through a real API process (widget SSE,
the pipeline with the grounding check, fast path off) against the same generator, one at a
time on an idle server, so the delay to the first visible token is the one a visitor sees.

Per turn: ``first_visible_token_ms`` (from sending the message to the first ``token`` event),
the generator's own first token (the trace's ``latency_ms.first_token``, from the turn's start)
and the live decision (route, who sent the text) against the offline replay of the same query.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx

from bench import chat_load as load
from bench import chat_setup as setup
from bench.grounding_data import percentile, share
from bench.grounding_gen import FAST_PATH_OFF


def pick(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` generator-routed records spread evenly over the (intent-sorted) sample."""
    llm = [r for r in rows if r["route"] == "llm" and not r.get("error")]
    step = max(1, len(llm) // max(1, n))
    return llm[::step][:n]


async def _turns(base: str, product: setup.Product, texts: list[str]) -> list[load.Turn]:
    out = []
    async with httpx.AsyncClient(timeout=300) as client:
        warm = await load.start_conversation(client, base, product.site_key)
        await load.sse_turn(client, base, warm, texts[0])  # warm-up, not measured
        for i, text in enumerate(texts, 1):
            conv = await load.start_conversation(client, base, product.site_key)
            out.append(await load.sse_turn(client, base, conv, text))
            await asyncio.sleep(load.VLLM_SETTLE_S)  # vLLM's busy loop after a request
            if i % 10 == 0:
                print(f"  live {i}/{len(texts)}", flush=True)
    return out


def run_live(
    settings: Any,
    product: setup.Product,
    vllm: str,
    model: str,
    rows: list[dict[str, Any]],
    offline: dict[str, dict[str, Any]],
    assistant: dict[str, Any],
    penalties: dict[str, float | None],
    n: int,
) -> dict[str, Any]:
    """Run ``n`` of ``rows`` through the API; figures and per-turn records."""
    chosen = pick(rows, n)
    for name, value in penalties.items():
        os.environ[f"DESKPILOT_LLM_{name.upper()}"] = "" if value is None else str(value)
    with setup.api_server(settings, vllm, "grounding", model) as base:
        token = setup.login(base)
        setup.put_assistant(base, token, product.id, **{**assistant, **FAST_PATH_OFF})
        try:
            turns = asyncio.run(_turns(base, product, [r["question"] for r in chosen]))
        finally:
            restore = {k: assistant[k] for k in FAST_PATH_OFF if k in assistant}
            setup.put_assistant(base, token, product.id, **restore)
    ids = [t.message_id for t in turns if t.message_id is not None]
    traces = setup.read_traces(settings, ids)
    recs = []
    for row, turn in zip(chosen, turns, strict=True):
        trace = traces.get(turn.message_id or -1, {})
        lat, g = trace.get("latency_ms") or {}, trace.get("grounding") or {}
        off = offline.get(row["id"]) or {}
        recs.append(
            {
                "id": row["id"],
                "ok": turn.ok,
                "error": turn.error,
                "route": turn.route,
                "first_visible_token_ms": turn.ttft_ms,
                "done_ms": turn.done_ms,
                "generator_first_token_ms": lat.get("first_token"),
                "pipeline_first_visible_ms": lat.get("first_visible"),
                "sent_by": g.get("sent_by"),
                "offline_sent_by": off.get("sent_by"),
                "agrees": turn.route == "llm" and g.get("sent_by") == off.get("sent_by"),
                "same_text": (g.get("sent_text") or "").strip()
                == (off.get("sent_text") or "").strip(),
                "stopped": g.get("stopped"),
                "text": turn.text,
            }
        )
    ok = [r for r in recs if r["ok"]]
    return {
        "n": len(recs),
        "ok": len(ok),
        "first_visible_token_ms_p50": percentile(
            [r["first_visible_token_ms"] for r in ok if r["first_visible_token_ms"]], 50
        ),
        "first_visible_token_ms_p95": percentile(
            [r["first_visible_token_ms"] for r in ok if r["first_visible_token_ms"]], 95
        ),
        "generator_first_token_ms_p50": percentile(
            [r["generator_first_token_ms"] for r in ok if r["generator_first_token_ms"]], 50
        ),
        "done_ms_p50": percentile([r["done_ms"] for r in ok if r["done_ms"]], 50),
        "replay_agreement": share(sum(r["agrees"] for r in ok), len(ok)),
        "same_text_share": share(sum(r["same_text"] for r in ok), len(ok)),
        "sent_by": {k: sum(r["sent_by"] == k for r in ok) for k in {r["sent_by"] for r in ok}},
        "records": recs,
    }
