"""Chat benchmark: the whole answer path through a real API process (widget API, intent gate,
retrieval, fast path / LLM / extractive), BANKING77 test queries against the demo product.

Phases (``--phases a,b``; each merges its figures into bench/results/chat.json):
  routing               every test query in a new conversation, LLM stopped: routes, fast-path
                        accuracy, stage latencies (records: var/bench/chat/routing-demo.jsonl)
  fast_path_load        open loop, 20 visitors x 1 message / 2 s, queries that took the fast path
                        in routing: latency from sending to ``done``
  llm                   a per-intent sample answered by vLLM: TTFT through deskpilot against the
                        same prompt sent straight to vLLM, citations, LLM-path accuracy
  with_banking77_train  routing against a product whose intent model also learnt train.csv
  sweep                 policy thresholds chosen on the dev records (no server)

    .venv/bin/python bench/chat.py                              # routing, load, b77, llm
    .venv/bin/python bench/chat.py --dev --phases routing,llm   # dev records (train sample)
    .venv/bin/python bench/chat.py --phases sweep               # thresholds from dev records

The bench world (database, models, indexes) lives in var/bench/chat and is reused (``--fresh``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.answers.models import AssistantSettingsBase  # noqa: E402
from backend.answers.policy import HANDOFF_INTENTS, OUT_OF_SCOPE, SMALLTALK_INTENTS  # noqa: E402
from bench import chat_load as load  # noqa: E402
from bench import chat_setup as setup  # noqa: E402

PHASES = ("routing", "fast_path_load", "llm", "with_banking77_train", "sweep")
DEFAULT = AssistantSettingsBase()
# extractive: would have gone to the LLM (it was stopped)
LLM_ROUTES = ("extractive", "llm", "llm_replaced")
SHARES = ["answered_share", "fallback_share", "handoff_share", "smalltalk_share", "fast_path_share"]
TOP = [
    "routes",
    *SHARES,
    "fast_path_accuracy",
    "answer_accuracy_extractive",
    "second_opinion_share",
]
METHOD = (
    "estimate: (fast-path answers whose FAQ entry is the query's intent + sum over intents of "
    "[queries of that intent routed to the LLM in the routing phase x LLM-path accuracy of that "
    "intent's sample in the llm phase (the overall sample accuracy where an intent has none)]) "
    "/ answered queries. LLM-path correct = the answer cites the intent's FAQ entry."
)


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def stage_pcts(stages: list[dict[str, float]], q: float) -> dict[str, float | None]:
    """Per stage of the traces' ``latency_ms``, the q-th percentile."""
    return {
        n: pct([s[n] for s in stages if n in s], q) for n in sorted({k for s in stages for k in s})
    }


def share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def routing_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Route shares, fast-path accuracy, accuracy scored by the top source, fast-path stages."""
    n, routes = len(rows), Counter(r["route"] for r in rows)
    answered = [r for r in rows if r["route"] in load.ANSWERED]
    fast = [r for r in rows if r["route"] == "fast_path"]
    return {
        "n": n,
        "routes": dict(routes.most_common()),
        **{f"{k}_share": share(routes[k], n) for k in ("fallback", "handoff", "smalltalk")},
        "answered_share": share(len(answered), n),
        "fast_path_share": share(len(fast), n),
        "fast_path_accuracy": share(sum(r["correct"] for r in fast), len(fast)),
        "answer_accuracy_extractive": share(sum(r["correct"] for r in answered), len(answered)),
        "second_opinion_share": share(sum(bool(r.get("second_opinion")) for r in rows), n),
        "stages_ms_p50": stage_pcts([r["stages"] for r in fast], 50),
        "stages_ms_p95": stage_pcts([r["stages"] for r in fast], 95),
    }


def llm_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """TTFT through deskpilot and straight to vLLM, overhead, stages, citations, accuracy."""
    ok = [r for r in rows if "skipped" not in r]
    pairs = [(r["ttft_ms"], r["direct_ttft_ms"]) for r in ok if r["prompt_match"]]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    p1 = [r for r in ok if r["phase1_llm_route"]]
    ours, direct = pct([a for a, _ in pairs], 50), pct([b for _, b in pairs], 50)
    return {
        "n": len(ok),
        "ttft_ms_p50": pct([r["ttft_ms"] for r in ok], 50),
        "ttft_ms_p95": pct([r["ttft_ms"] for r in ok], 95),
        "done_ms_p50": pct([r["done_ms"] for r in ok], 50),
        "direct_ttft_ms_p50": direct,
        "direct_ttft_ms_p95": pct([b for _, b in pairs], 95),
        "overhead_ttft_ms_p50": pct([a - b for a, b in pairs], 50),
        "overhead_ttft_ms_diff_of_p50s": round(ours - direct, 1) if ours and direct else None,
        "pairs": len(pairs),
        "prompt_mismatches": sum(not r["prompt_match"] for r in ok),
        "prefix_cache": dict(Counter(r["cache"] for r in ok)),
        "not_idle": sum(not r["idle"] for r in ok),
        "stages_ms_p50": stage_pcts([r["stages"] for r in ok], 50),
        "stages_ms_p95": stage_pcts([r["stages"] for r in ok], 95),
        "citation_rate": share(sum(bool(r["cited"]) for r in ok), len(ok)),
        "attribution_rate": share(sum(bool(r.get("attributed")) for r in ok), len(ok)),
        "accuracy_model_cited_only": share(
            sum(r.get("correct_model_cited", 0) for r in ok), len(ok)
        ),
        "accuracy": share(sum(r["correct"] for r in ok), len(ok)),
        "accuracy_phase1_llm_routed": share(sum(r["correct"] for r in p1), len(p1)),
        "n_phase1_llm_routed": len(p1),
        "generation_errors": sum(bool(r["route_after_error"]) for r in ok),
        "completion_tokens_p50": pct([r["completion_tokens"] or 0 for r in ok], 50),
        "skipped": dict(Counter(r["skipped"] for r in rows if "skipped" in r)),
    }


def answer_accuracy(routing: list[dict[str, Any]], llm: list[dict[str, Any]]) -> dict[str, Any]:
    """The stratified estimate of answer accuracy (see METHOD); exact when no query went to the
    LLM; {} when some did and there are no LLM records to estimate them with."""
    ok = [r for r in llm if "skipped" not in r]
    answered = [r for r in routing if r["route"] in load.ANSWERED]
    routed = Counter(r["label"] for r in routing if r["route"] in LLM_ROUTES)
    if not answered or (routed and not ok):
        return {}
    by_label: dict[str, list[bool]] = defaultdict(list)
    for r in ok:
        by_label[r["label"]].append(bool(r["correct"]))
    overall = float(np.mean([r["correct"] for r in ok])) if ok else 0.0
    est = sum(
        n * (float(np.mean(by_label[k])) if k in by_label else overall) for k, n in routed.items()
    )
    fp_ok = sum(r["correct"] for r in answered if r["route"] == "fast_path")
    n_routed = sum(routed.values())
    return {
        "answer_accuracy": round((fp_ok + est) / len(answered), 4),
        "answer_accuracy_method": METHOD,
        "llm_accuracy_weighted": round(est / n_routed, 4) if n_routed else None,
        "llm_routed_with_own_sample": share(sum(routed[k] for k in by_label), n_routed),
    }


def confirmed(r: dict[str, Any]) -> bool:
    """Retrieval confirmed the gate: the plain search's best entry is the predicted intent's
    FAQ entry (``retrieval.confirmed`` of the trace)."""
    return bool(r.get("confirmed"))


def simulate(
    r: dict[str, Any],
    mc: float,
    fpc: float,
    fps: float,
    mcc: float | None = None,
    mr: float | None = None,
) -> str:
    """The route policy.decide + grounding.fast_path_hit take for a recorded verdict under other
    thresholds ("llm": answered, not by the fast path); ``mcc``: min_confidence_confirmed
    (default: ``mc``, confirmation off); ``mr``: min_confidence_reserved (default: ``mc``).
    Exact because the recorded hits were boosted (recorded at min_confidence 0), as they are for
    any answered query."""
    conf, intent = r.get("confidence") or 0.0, r.get("intent")
    mcc = mc if mcc is None else mcc
    mr = mc if mr is None else mr
    if r.get("route") == "error":
        return "error"
    if intent in HANDOFF_INTENTS and conf >= mr:
        return "handoff"
    if intent == OUT_OF_SCOPE or r.get("out_of_scope"):
        return "fallback"
    if intent in SMALLTALK_INTENTS and conf >= mr:
        return "smalltalk"
    if intent in HANDOFF_INTENTS or intent in SMALLTALK_INTENTS:
        return "fallback"
    if conf < mc and not (confirmed(r) and conf >= mcc):
        return "fallback"
    if r.get("top_kind") is None:  # nothing retrieved
        return "fallback"
    same = intent == r.get("top_category") and conf >= fpc
    fast = r.get("top_kind") == "faq" and (same or (r.get("top_dense") or 0.0) >= fps)
    return "fast_path" if fast else "llm"


def sweep(dev: list[dict[str, Any]], dev_llm: list[dict[str, Any]], args: Any) -> dict[str, Any]:
    """Answered share and accuracy over a (min_confidence, fast_path_min_confidence) grid."""
    fps, llm_ok = args.fast_path_min_similarity, [r for r in dev_llm if "skipped" not in r]
    mr = args.min_confidence_reserved  # BANKING77 has no handoff or small talk to tune it on
    p_all = float(np.mean([r["correct"] for r in llm_ok])) if llm_ok else None
    k_prior, grid, n, cells = 10, [round(0.05 * i, 2) for i in range(21)], len(dev), []
    # fast_path_min_confidence below min_confidence_confirmed changes nothing (all answered pass)
    triples = [(a, f, c) for a in grid[:-1] for c in grid if c <= a for f in grid if f >= c]
    for mc, fpc, mcc in triples:
        routes = [simulate(r, mc, fpc, fps, mcc, mr) for r in dev]
        fp = [r for r, x in zip(dev, routes, strict=True) if x == "fast_path"]
        via = [r for r, x in zip(dev, routes, strict=True) if x == "llm"]
        fp_ok = sum(r["top_category"] == r["label"] for r in fp)
        ext_ok = sum(r["top_category"] == r["label"] for r in via)
        cell = {
            "min_confidence": mc,
            "min_confidence_confirmed": mcc,
            "fast_path_min_confidence": fpc,
            "answered_share": share(len(fp) + len(via), n),
            "fast_path_share": share(len(fp), n),
            "fast_path_accuracy": share(fp_ok, len(fp)),
            "accuracy_extractive": share(fp_ok + ext_ok, len(fp) + len(via)),
        }
        if p_all is not None:  # the cell's own dev LLM answers, shrunk towards the overall
            own = [r["correct"] for r in llm_ok if simulate(r, mc, fpc, fps, mcc, mr) == "llm"]
            p = (sum(own) + k_prior * p_all) / (len(own) + k_prior)
            cell.update(llm_accuracy=round(p, 4), n_llm_dev=len(own))
            cell["accuracy_est"] = share(fp_ok + p * len(via), len(fp) + len(via))
        cells.append(cell)
    metric = "accuracy_est" if p_all is not None else "accuracy_extractive"
    feasible = [c for c in cells if (c["answered_share"] or 0) >= args.min_answered]

    def best(key: str, among: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        pool = [c for c in among or cells if (c["answered_share"] or 0) >= args.min_answered]
        return max(pool or among or cells, key=lambda c: (c[key] or 0, c["fast_path_share"] or 0))

    replay = [
        simulate(r, 0, 0, fps) == ("llm" if r["route"] in LLM_ROUTES else r["route"]) for r in dev
    ]
    default = (
        DEFAULT.min_confidence,
        DEFAULT.fast_path_min_confidence,
        DEFAULT.min_confidence_confirmed,
    )
    key = ("min_confidence", "fast_path_min_confidence", "min_confidence_confirmed")
    return {
        "n_dev": n,
        "dev_set": f"{n} texts of BANKING77 train.csv, seed {args.seed} (not in the demo examples)",
        "fast_path_min_similarity": fps,
        "criterion": f"max {metric} with answered_share >= {args.min_answered}, ties: more fast"
        " path" + ("" if feasible else "; NO setting reaches that share: best overall"),
        "llm_accuracy_source": f"dev llm records (n={len(llm_ok)}, overall {p_all:.3f}), per "
        f"cell shrunk towards the overall with weight {k_prior}"
        if p_all is not None
        else "no dev llm records: LLM-routed answers scored by their top source",
        "replay_agreement": share(sum(replay), len(replay)),
        "chosen": best(metric),
        "chosen_by_accuracy_extractive": best("accuracy_extractive"),
        "current_defaults": next((c for c in cells if tuple(c[k] for k in key) == default), None),
        "without_confirmation": best(metric, [c for c in cells if c[key[2]] == c[key[0]]]),
        "grid_best_20": sorted(feasible or cells, key=lambda c: -(c[metric] or 0))[:20],
        "grid_size": len(cells),
        "best_fast_path_min_confidence_by_pair": [
            max(group, key=lambda c: (c[metric] or 0, c["fast_path_share"] or 0))
            for group in _groups(cells, key[0], key[2])
        ],
    }


def _groups(cells: list[dict[str, Any]], *names: str) -> list[list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        out[tuple(c[n] for n in names)].append(c)
    return list(out.values())


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def print_table(title: str, s: dict[str, Any], keys: list[str], targets: dict[str, float]) -> None:
    """One figure per line, with its target (an upper bound) and whether it is met."""
    print(f"\n{title}\n{'figure':<32}{'value':>10}  target")
    for k in keys:
        v, t = s.get(k), targets.get(k)
        ok = "" if t is None or v is None else ("met" if v <= t else "NOT met")
        line = f"{k:<32}{_fmt(v):>10}  " + (f"<= {t:g} {ok}" if t is not None else "")
        print(line if not isinstance(v, dict) else f"{k:<32}{_fmt(v)}")


def print_sweep(sw: dict[str, Any]) -> None:
    key = "accuracy_est" if "accuracy_est" in sw["chosen"] else "accuracy_extractive"
    cols = [round(0.1 * i, 1) for i in range(10)]
    by = {
        (c["min_confidence"], c["min_confidence_confirmed"]): c
        for c in sw["best_fast_path_min_confidence_by_pair"]
    }
    print(
        f"\nthreshold sweep, dev set (n={sw['n_dev']}): {key} / answered_share (best "
        f"fast_path_min_confidence); columns: min_confidence_confirmed\n{'min_conf':>8} "
        + "".join(f"{c:>12}" for c in cols)
    )
    for mc in sorted({m for m, _ in by}):
        row = [by.get((mc, c)) for c in cols]
        cells = "".join(
            f"{c[key]:>6.3f}/{c['answered_share']:<5.2f}" if c else " " * 12 for c in row
        )
        print(f"{mc:>8.2f} {cells}")
    print(f"criterion: {sw['criterion']}\nLLM accuracy: {sw['llm_accuracy_source']}")
    print(f"replay check (recorded routes reproduced at 0/0): {sw['replay_agreement']}")
    print(f"CHOSEN: {json.dumps(sw['chosen'])}")
    print(f"without confirmation: {json.dumps(sw['without_confirmation'])}")
    print(f"by accuracy_extractive: {json.dumps(sw['chosen_by_accuracy_extractive'])}")
    print(f"current defaults: {json.dumps(sw['current_defaults'])}")


def policy(args: Any) -> dict[str, float]:
    """Thresholds of a routing run: the product defaults (or the options); on the dev set 0, so
    every query is answered and its verdict recorded for the sweep."""
    mc, fpc = (0.0, 0.0) if args.dev else (args.min_confidence, args.fast_path_min_confidence)
    return {
        "min_confidence": mc,
        "min_confidence_confirmed": 0.0 if args.dev else args.min_confidence_confirmed,
        "min_confidence_reserved": 0.0 if args.dev else args.min_confidence_reserved,
        "fast_path_min_confidence": fpc,
        "fast_path_min_similarity": args.fast_path_min_similarity,
    }


def queries(args: Any) -> list[tuple[str, str]]:
    return setup.load_queries(
        args.data, dev=args.dev, dev_size=args.dev_size, seed=args.seed, limit=args.limit
    )


def run_routing(base: str, token: str, product: setup.Product, args: Any) -> dict[str, Any]:
    setup.put_assistant(base, token, product.id, **policy(args))
    qs = queries(args)
    split = "dev" if args.dev else "test"
    print(f"\nrouting {product.slug}: {len(qs)} {split} queries, {policy(args)}")
    rows = asyncio.run(load.routing_records(base, args.settings, product, qs))
    setup.write_records(setup.records_path("routing", product.variant, args.dev), rows)
    s = routing_summary(rows)
    print_table(
        f"routing, {product.slug} (n={s['n']})",
        s,
        [*TOP, "stages_ms_p50", "stages_ms_p95"],
        {},
    )
    return s


def run_load(base: str, token: str, product: setup.Product, args: Any) -> dict[str, Any]:
    rows = setup.read_records(setup.records_path("routing", "demo", False))
    fast = [r["text"] for r in rows if r["route"] == "fast_path"]
    if not fast:
        sys.exit("error: no fast-path routing records: run --phases routing first")
    random.Random(args.seed).shuffle(fast)
    setup.put_assistant(base, token, product.id, **policy(args))
    interval = args.visitors / args.rate
    print(f"\nload: {args.visitors} visitors x 1 message / {interval:g} s, {args.duration:g} s")
    turns, wall, stages = asyncio.run(
        load.fast_path_load(
            base,
            args.settings,
            product,
            fast,
            visitors=args.visitors,
            interval_s=interval,
            duration_s=args.duration,
        )
    )
    lat = [t.done_ms for t in turns if t.ok and t.done_ms is not None]
    errors = Counter(t.error or "?" for t in turns if not t.ok)
    s = {
        "n": len(turns),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common(5)),
        **{f"latency_ms_{k}": pct(lat, q) for k, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "latency_ms_max": pct(lat, 100),
        "offered_rate": args.rate,
        "achieved_rate": round(len(lat) / wall, 2),
        "visitors": args.visitors,
        "duration_s": args.duration,
        "send_lag_ms_max": round(max((t.lag_ms for t in turns), default=0.0), 1),
        "routes": dict(Counter(t.route or "error" for t in turns)),
        "under_load_stages_ms_p50": stage_pcts(stages, 50),
        "under_load_stages_ms_p95": stage_pcts(stages, 95),
    }
    print_table(
        "fast-path load (send -> done)", s, list(s), {"latency_ms_p50": 50, "latency_ms_p99": 150}
    )
    return s


def run_llm(product: setup.Product, args: Any) -> tuple[dict[str, Any], str]:
    routing = setup.read_records(setup.records_path("routing", "demo", args.dev))
    if not routing:
        print("(no routing records: the sample is drawn from all queries of each intent)")
    routed = {r["text"] for r in routing if r["route"] in LLM_ROUTES}
    cands = load.llm_candidates(queries(args), routed, args.seed, args.limit_intents)
    mc = 0.0 if args.dev else args.min_confidence
    off = {"fast_path_min_confidence": 1.0, "fast_path_min_similarity": 1.0}
    preview = setup.PromptPreview(args.settings)
    with setup.vllm_server(setup.WORLD, args.vllm_url) as vllm:
        model = setup.served_model(vllm)
        with setup.api_server(args.settings, vllm, "llm", model) as base:
            token = setup.login(base)
            config = setup.put_assistant(
                base, token, product.id, min_confidence=mc, **off, max_answer_tokens=args.max_tokens
            )
            print(
                f"\nllm: {len(cands)} intents x {args.llm_per_intent}, max_tokens "
                f"{args.max_tokens}, fast path off, min_confidence {mc}, {model} at {vllm}"
            )
            opts = {
                "config": config,
                "settings": args.settings,
                "per_intent": args.llm_per_intent,
                "max_skips": args.llm_max_skips,
                "max_tokens": args.max_tokens,
            }
            try:
                rows = asyncio.run(
                    load.llm_records(base, vllm, model, product, cands, preview, opts)
                )
            finally:
                restore = {**policy(args), "max_answer_tokens": DEFAULT.max_answer_tokens}
                setup.put_assistant(base, token, product.id, **restore)
    setup.write_records(setup.records_path("llm", "demo", args.dev), rows)
    s = llm_summary(rows)
    print_table(f"LLM path (n={s['n']}, pairs {s['pairs']})", s, list(s), {})
    return s, model


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add(
        "--phases",
        help=f"comma separated, of: {', '.join(PHASES)} (default: the four test "
        "phases; with --dev: routing,llm,sweep)",
    )
    add(
        "--data",
        type=Path,
        default=ROOT.parent / "shared/datasets/banking77",
        help="BANKING77 folder",
    )
    add(
        "--dev",
        action="store_true",
        help="dev set instead of test.csv: a fixed-seed sample of "
        "train.csv, thresholds 0; writes records for the sweep, merges no figures",
    )
    add("--dev-size", type=int, default=3000, help="dev sample size (%(default)s)")
    add("--limit", type=int, help="evenly sample this many queries (quick runs)")
    add("--duration", type=float, default=60.0, help="load: seconds of sending (%(default)s)")
    add(
        "--rate",
        type=float,
        default=10.0,
        help="load: messages per second, all visitors (%(default)s)",
    )
    add(
        "--visitors",
        type=int,
        default=20,
        help="load: visitors, each its own conversation (%(default)s)",
    )
    add(
        "--llm-per-intent",
        type=int,
        default=3,
        help="llm: answered queries per intent (%(default)s)",
    )
    add("--limit-intents", type=int, help="llm: only the first N intents (quick runs)")
    add(
        "--llm-max-skips",
        type=int,
        default=5,
        help="llm: extra queries tried per intent when "
        "the API does not route one to the LLM (e.g. below min_confidence)",
    )
    add(
        "--max-tokens",
        type=int,
        default=64,
        help="llm: the product's max_answer_tokens (%(default)s)",
    )
    add(
        "--vllm-url",
        help="llm: an existing vLLM root URL (e.g. http://127.0.0.1:8001); default: "
        "start one with infra/vllm/serve.sh on a free port",
    )
    thr = "routing, load: the product's %s (default: the code's, %%(default)s)"
    for name, note in (
        ("min_confidence", ""),
        ("min_confidence_confirmed", ""),
        ("min_confidence_reserved", " (handoff and small talk; the sweep keeps it fixed)"),
        ("fast_path_min_confidence", ""),
        ("fast_path_min_similarity", " (the sweep keeps it fixed)"),
    ):
        flag = "--" + name.replace("_", "-")
        add(flag, type=float, default=getattr(DEFAULT, name), help=thr % f"threshold{note}")
    add(
        "--min-answered", type=float, default=0.85, help="sweep: least answered share (%(default)s)"
    )
    add("--seed", type=int, default=13, help="dev sample, LLM sample and load order (%(default)s)")
    add("--fresh", action="store_true", help="delete var/bench/chat and set up again")
    add("--out", type=Path, default=ROOT / "bench/results/chat.json", help="JSON merged into")
    add("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    default = "routing,llm,sweep" if args.dev else "routing,fast_path_load,with_banking77_train,llm"
    args.phases = [x.strip() for x in (args.phases or default).split(",") if x.strip()]
    if bad := [x for x in args.phases if x not in PHASES]:
        p.error(f"unknown phase(s) {bad}; choose from {', '.join(PHASES)}")
    if args.dev and {"fast_path_load", "with_banking77_train"} & set(args.phases):
        p.error("--dev runs only routing, llm and sweep")
    return args


def main() -> None:
    args = parse_args()
    res: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    conf, test = res.setdefault("settings", {}), not args.dev

    def save(phase: str) -> None:
        """Stamp the phase and write the JSON now, so a later phase's failure loses nothing."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        conf.setdefault("measured_at_by_phase", {})[phase + ("" if test else "_dev")] = now
        res["measured_at"] = now
        if not args.no_write:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(res, indent=2) + "\n")

    served = [x for x in args.phases if x != "sweep"]
    if served:
        b77 = "with_banking77_train" in served
        variants = ["demo", "with_banking77_train"] if b77 else ["demo"]
        args.settings, prods = setup.ensure_world(
            setup.WORLD, args.data, variants, fresh=args.fresh
        )
        conf.update(machine=setup.machine(), embedder=args.settings.embedding_model)
        conf.setdefault("intent_models", {}).update({v: p.intent_model for v, p in prods.items()})
    if no_llm := [x for x in served if x != "llm"]:
        with setup.api_server(args.settings, None, "no-llm") as base:
            token = setup.login(base)
            for phase in no_llm:
                if phase == "routing":
                    s = run_routing(base, token, prods["demo"], args)
                    if test:
                        res.update({k: s[k] for k in TOP})
                        stages = {k: s[k] for k in ("stages_ms_p50", "stages_ms_p95")}
                        res.setdefault("fast_path", {}).update(stages)
                        conf.update(thresholds=policy(args), n_queries=s["n"], limit=args.limit)
                elif phase == "fast_path_load":
                    s = run_load(base, token, prods["demo"], args)
                    res.setdefault("fast_path", {}).update(s)
                else:
                    s = run_routing(base, token, prods["with_banking77_train"], args)
                    res["with_banking77_train"] = {k: s[k] for k in [*TOP, "n"]}
                save(phase)
    if "llm" in served:
        s, model = run_llm(prods["demo"], args)
        if test:
            res.update(llm_path=s, overhead_ttft_ms_p50=s["overhead_ttft_ms_p50"])
            conf.update(llm_model=model, max_tokens=args.max_tokens)
            conf.update(llm_per_intent=args.llm_per_intent, limit_intents=args.limit_intents)
        save("llm")
    if test and {"routing", "llm", "with_banking77_train"} & set(args.phases):
        llm_rows = setup.read_records(setup.records_path("llm", "demo", False))
        for variant in ("demo", "with_banking77_train"):
            rows = setup.read_records(setup.records_path("routing", variant, False))
            if est := answer_accuracy(rows, llm_rows):
                target = res if variant == "demo" else res.setdefault(variant, {})
                target.update(answer_accuracy=est["answer_accuracy"], answer_accuracy_method=METHOD)
                if variant == "demo":
                    res.setdefault("llm_path", {}).update({k: est[k] for k in list(est)[2:]})
                print(f"answer_accuracy, {variant}: {est['answer_accuracy']} (estimate, below)")
        print(f"answer_accuracy_method: {METHOD}")
        save("answer_accuracy")
    if "sweep" in args.phases:
        dev = setup.read_records(setup.records_path("routing", "demo", True))
        if not dev:
            sys.exit("error: no dev routing records: run --dev --phases routing first")
        dev_llm = setup.read_records(setup.records_path("llm", "demo", True))
        res["threshold_sweep"] = sw = sweep(dev, dev_llm, args)
        print_sweep(sw)
        save("sweep")
    if not args.no_write:
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
