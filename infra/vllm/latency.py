"""Time to first token and decode speed of a running generator, on the real answer prompt.

Each request is the pipeline's own prompt (``ml.generation.prompt.build_prompt``): the system
rules, ``--passages`` demo FAQ entries as numbered passages (about 600 prompt tokens with 4) and
one of the FAQ's alternative questions; streamed, temperature 0, the production penalties and
answer length. Requests are sent one at a time (single-user latency), after one warm-up request.

    .venv/bin/python infra/vllm/latency.py --url http://127.0.0.1:8001 --model smollm2-135m-instruct

Prints one JSON object: p50/min/max time to first token, decode tokens/s (tokens after the
first / time after the first), prompt and completion tokens, and the answers' first words.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ml.generation.prompt import Passage, build_prompt  # noqa: E402

FAQ = ROOT / "data" / "demo" / "faq.jsonl"


def prompts(n: int, passages: int) -> list[list[dict[str, str]]]:
    """``n`` answer prompts: question k of the FAQ with it and the next entries as passages."""
    entries = [json.loads(line) for line in FAQ.read_text(encoding="utf-8").splitlines() if line]
    out = []
    for k in range(n):
        chosen = [entries[(k + j) % len(entries)] for j in range(passages)]
        shown = [
            Passage(j + 1, e["id"], e["question"], e["answer"], e.get("url"))
            for j, e in enumerate(chosen)
        ]
        question = (chosen[0]["alternatives"] or [chosen[0]["question"]])[0]
        built = build_prompt(
            question=question, passages=shown, history=[], product_name="Lumen Bank"
        )
        out.append([{"role": m.role, "content": m.content} for m in built.messages])
    return out


def stream_once(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One streamed chat completion: first-token time, last-token time, usage, text."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    started = time.perf_counter()
    conn.request(
        "POST",
        parts.path.rstrip("/") + "/v1/chat/completions",
        json.dumps(body),
        {"Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"error: HTTP {resp.status}: {resp.read()[:300]!r}")
    first = last = None
    text: list[str] = []
    usage: dict[str, int] = {}
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        usage = event.get("usage") or usage
        for choice in event.get("choices", []):
            if piece := choice.get("delta", {}).get("content"):
                now = time.perf_counter()
                first = first if first is not None else now
                last = now
                text.append(piece)
    conn.close()
    if first is None or last is None or not usage:
        raise SystemExit("error: the stream carried no content or no usage")
    return {
        "ttft_s": first - started,
        "decode_s": last - first,
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "text": "".join(text),
    }


def main() -> None:
    """Send the requests and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8001", help="server root URL")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument("-n", type=int, default=10, help="timed requests (10)")
    parser.add_argument("--passages", type=int, default=4, help="FAQ passages per prompt (4)")
    parser.add_argument("--max-tokens", type=int, default=160, help="answer cap (160)")
    parser.add_argument("--frequency-penalty", type=float, default=0.3)
    parser.add_argument("--repetition-penalty", type=float, default=1.1)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    def body(messages: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "model": args.model,
            "messages": messages,
            "max_tokens": args.max_tokens,
            "temperature": 0,
            "frequency_penalty": args.frequency_penalty,
            "repetition_penalty": args.repetition_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    batch = prompts(args.n + 1, args.passages)
    stream_once(args.url, body(batch[-1]), args.timeout)  # warm-up, not counted
    runs = [stream_once(args.url, body(m), args.timeout) for m in batch[:-1]]
    ttft = [r["ttft_s"] for r in runs]
    rates = [
        (r["completion_tokens"] - 1) / r["decode_s"]
        for r in runs
        if r["completion_tokens"] > 1 and r["decode_s"] > 0
    ]
    result = {
        "model": args.model,
        "requests": len(runs),
        "ttft_s_p50": round(statistics.median(ttft), 3),
        "ttft_s_min": round(min(ttft), 3),
        "ttft_s_max": round(max(ttft), 3),
        "decode_tokens_per_s_p50": round(statistics.median(rates), 1) if rates else None,
        "prompt_tokens_p50": statistics.median(r["prompt_tokens"] for r in runs),
        "completion_tokens_p50": statistics.median(r["completion_tokens"] for r in runs),
        "completion_tokens_max": max(r["completion_tokens"] for r in runs),
        "answers": [r["text"][:120] for r in runs[:3]],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
