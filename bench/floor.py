"""Retrieval floor benchmark: how far the best hit of the demo product's knowledge sits from a
banking question and from an off-topic one, and which floor separates them.

In scope: BANKING77 ``train.csv`` (online-banking questions; the demo FAQ has one entry per
BANKING77 intent). Out of scope: CLINC150 validation texts of every intent that is not banking
(``BANKING_LIKE`` lists the excluded ones). CLINC150's ``oos_train`` and ``oos_val`` texts are
never read: the LLM-grounding issue keeps them as its untouched final test of this floor.

The demo knowledge is indexed the way the API does it (both demo files parsed and chunked by the
ingestion code, the hybrid index with the configured fusion, queries embedded by the ONNX query
embedder). For each candidate floor the table gives the in-scope share kept (best score at or
above the floor) and the out-of-scope share rejected, for two signals: the best hit's dense
cosine similarity (the setting) and, for comparison, the fused score. The chosen floor is the
highest one (by 0.01) that keeps at least ``--keep`` of the in-scope questions.

    .venv/bin/python bench/floor.py                 # -> bench/results/floor.json (~5 min)
    .venv/bin/python bench/floor.py --limit 2000 --no-write   # a quicker look
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.answers.rules import match  # noqa: E402
from backend.core.settings import Settings, load_settings  # noqa: E402
from backend.knowledge import indexing  # noqa: E402
from backend.knowledge.demo import DEMO_DIR, DEMO_FILES  # noqa: E402
from backend.knowledge.ingest import limits_from, make_chunks  # noqa: E402
from backend.knowledge.parsing.parse import parse_file  # noqa: E402
from ml.retrieval.hybrid import HybridIndex  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
# CLINC150 intents a bank's help desk covers (its banking and credit-card domains, and the
# money questions of its travel and work domains): neither in scope (no BANKING77 counterpart to
# score them against) nor out of scope, so they are left out.
_BANKING_LIKE = (
    # banking domain
    "transfer transactions balance freeze_account pay_bill bill_balance bill_due interest_rate "
    "routing min_payment order_checks account_blocked spending_history pin_change report_fraud "
    # credit-card domain
    "credit_score report_lost_card improve_credit_score rewards_balance new_card credit_limit "
    "card_declined international_fees apr redeem_rewards credit_limit_change damaged_card "
    "replacement_card_duration expiration_date application_status "
    # money questions elsewhere (travel, work, utility)
    "exchange_rate travel_notification direct_deposit payday income taxes w2 rollover_401k "
    "insurance insurance_change"
)
BANKING_LIKE = frozenset(_BANKING_LIKE.split())
FLOORS = [round(float(x), 2) for x in np.arange(0.20, 0.61, 0.01)]


def demo_index(settings: Settings) -> HybridIndex:
    """The demo product's index as the API serves it: ingestion's parsing and chunking, the
    configured fusion, built with the PyTorch embedder and queried through the API's one."""
    items = []
    for name in DEMO_FILES:
        parsed = parse_file(DEMO_DIR / name, name, limits_from(settings))
        chunks = make_chunks(parsed, product_id=0, settings=settings)
        items += [indexing.to_item(chunk, name) for chunk in chunks]
    embedder = indexing.embedder_for(settings.embedding_model)
    index = HybridIndex.build(
        items, embedder, version="floor", fusion=indexing.fusion_for(settings)
    )
    return index.reconfigured(embedder=indexing.query_embedder_for(settings))


def in_scope(folder: Path, limit: int | None) -> list[str]:
    path = folder / "train.csv"
    if not path.exists():
        sys.exit(f"error: {path} not found; pass --banking77 pointing at the BANKING77 folder")
    with path.open(encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["category"])
    if limit and limit < len(rows):  # every n-th row of the intent-sorted file: stratified
        rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, limit)]
    return [r["text"] for r in rows]


def out_of_scope(folder: Path) -> list[tuple[str, str]]:
    path = folder / "train_val.json"
    if not path.exists():
        sys.exit(f"error: {path} not found; pass --clinc150 pointing at the CLINC150 folder")
    val = json.loads(path.read_text(encoding="utf-8"))["val"]  # never oos_train / oos_val
    return [(text, intent) for text, intent in val if intent not in BANKING_LIKE]


def best_scores(index: HybridIndex, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per text: the best hit's dense similarity and its fused score (top 5, as the API)."""
    dense, fused = [], []
    for text in texts:
        hits = index.search(text, k=5)
        dense.append(max((float(h.details.get("dense", 0.0)) for h in hits), default=0.0))
        fused.append(hits[0].score if hits else 0.0)
    return np.asarray(dense), np.asarray(fused)


def sweep(inside: np.ndarray, outside: np.ndarray) -> list[dict[str, float]]:
    return [
        {
            "floor": f,
            "in_scope_kept": round(float(np.mean(inside >= f)), 4),
            "out_of_scope_rejected": round(float(np.mean(outside < f)), 4),
        }
        for f in FLOORS
    ]


def choose(rows: list[dict[str, float]], keep: float) -> dict[str, float]:
    return max((r for r in rows if r["in_scope_kept"] >= keep), key=lambda r: r["floor"])


def with_model(chat: Path) -> dict[str, object]:
    """The floor's effect once an intent model is active, from the chat benchmark's routing of
    the BANKING77 test set: the floor applies only to answers off the fast path (generator or
    extractive), so those routes bound how many answers it could turn into fallbacks."""
    if not chat.exists():
        return {"note": f"{chat} not found: run bench/chat.py for the routes with a model"}
    report = json.loads(chat.read_text(encoding="utf-8"))
    out: dict[str, object] = {"source": str(chat.relative_to(ROOT))}
    for name, routes in (
        ("demo_model", report.get("routes", {})),
        ("with_banking77_train", report.get("with_banking77_train", {}).get("routes", {})),
    ):
        total = sum(routes.values()) or 1
        floorable = sum(n for route, n in routes.items() if route in ("llm", "extractive"))
        out[name] = {
            "routes": routes,
            "answered_share": round(
                sum(n for r, n in routes.items() if r in ("fast_path", "llm", "extractive"))
                / total,
                4,
            ),
            "answers_the_floor_can_change": floorable,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--banking77", type=Path, default=DATASETS / "banking77")
    parser.add_argument("--clinc150", type=Path, default=DATASETS / "clinc150")
    parser.add_argument("--limit", type=int, default=None, help="stratified in-scope sample")
    parser.add_argument("--keep", type=float, default=0.98, help="in-scope share to keep")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/floor.json")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if not 0 < args.keep <= 1:
        sys.exit("error: --keep must be in (0, 1]")

    inside_texts = in_scope(args.banking77, args.limit)
    outside = out_of_scope(args.clinc150)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings().model_copy(update={"data_dir": Path(tmp)})
        start = time.perf_counter()
        index = demo_index(settings)
        build_s = time.perf_counter() - start
        index.search("warm up", k=5)
        start = time.perf_counter()
        in_dense, in_fused = best_scores(index, inside_texts)
        out_dense, out_fused = best_scores(index, [t for t, _ in outside])
        search_s = time.perf_counter() - start
    signals = {"dense": sweep(in_dense, out_dense), "fused": sweep(in_fused, out_fused)}
    chosen = {name: choose(rows, args.keep) for name, rows in signals.items()}
    floor = chosen["dense"]["floor"]
    by_intent: dict[str, list[float]] = defaultdict(list)
    for (_, intent), score in zip(outside, out_dense, strict=True):
        by_intent[intent].append(score)
    hardest = sorted(
        ((i, float(np.mean(np.asarray(s) < floor))) for i, s in by_intent.items()),
        key=lambda kv: kv[1],
    )[:10]
    rules_fired = sum(match(t) is not None for t in inside_texts)
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedder": settings.embedding_model,
        "query_embedder": getattr(index.embedder, "backend", "torch"),
        "fusion": settings.retrieval_fusion,
        "knowledge": {"files": list(DEMO_FILES), "chunks": len(index.chunks)},
        "in_scope": {"dataset": "banking77 train.csv", "texts": len(inside_texts)},
        "out_of_scope": {
            "dataset": "clinc150 val, non-banking intents (oos_train and oos_val unused)",
            "texts": len(outside),
            "intents": len(by_intent),
            "excluded_banking_like": sorted(BANKING_LIKE),
        },
        "keep_target": args.keep,
        "chosen": {"signal": "dense", **chosen["dense"]},
        "fused_at_same_keep": chosen["fused"],
        "hardest_out_of_scope_intents": [
            {"intent": i, "rejected": round(r, 3)} for i, r in hardest
        ],
        "rules_fired_on_in_scope": rules_fired,
        "with_model": with_model(ROOT / "bench/results/chat.json"),
        "in_scope_quantiles_dense": {
            f"p{q}": round(float(np.percentile(in_dense, q)), 4) for q in (1, 2, 5, 10, 50)
        },
        "out_of_scope_quantiles_dense": {
            f"p{q}": round(float(np.percentile(out_dense, q)), 4) for q in (50, 90, 95, 99)
        },
        "sweep": signals,
        "index_build_s": round(build_s, 1),
        "search_ms_per_text": round(1000 * search_s / (len(inside_texts) + len(outside)), 2),
    }
    print(
        f"\nin scope: {len(inside_texts)} BANKING77 train texts; out of scope: {len(outside)} "
        f"CLINC150 val texts of {len(by_intent)} non-banking intents"
    )
    head = ("floor", "dense: kept", "rejected", "fused: kept", "rejected")
    print("{:>6s} | {:>11s} {:>9s} | {:>11s} {:>9s}".format(*head))
    for d, f in zip(signals["dense"], signals["fused"], strict=True):
        if round(d["floor"] * 100) % 2 == 0 or d["floor"] in (floor, chosen["fused"]["floor"]):
            mark = " <- chosen" if d["floor"] == floor else ""
            print(
                f"{d['floor']:6.2f} | {d['in_scope_kept']:11.3f} {d['out_of_scope_rejected']:9.3f} "
                f"| {f['in_scope_kept']:11.3f} {f['out_of_scope_rejected']:9.3f}{mark}"
            )
    print(f"chosen (dense, keeps >= {args.keep}): {chosen['dense']}")
    print(f"fused score at the same keep target: {chosen['fused']}")
    print(
        "hardest out-of-scope intents at the chosen floor:", report["hardest_out_of_scope_intents"]
    )
    print(f"rules fired on {rules_fired} of {len(inside_texts)} in-scope texts")
    print(f"with an intent model (bench/chat.py routes): {report['with_model']}")
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
