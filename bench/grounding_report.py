"""The grounding bench's ``tune`` summary, ``check`` and ``live`` phases: figures into the results
dict and a printed table (``bench/grounding.py`` drives them)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import grounding_figures as fig
from bench.grounding_data import read_records, records_path
from bench.grounding_gen import bench_config
from bench.grounding_live import pick, run_live
from bench.grounding_replay import load_sets, replay_item, replay_record
from bench.grounding_tune import load_judge

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "bench" / "data" / "grounding_labels.jsonl"
PIPELINE = ROOT / "backend" / "answers" / "pipeline.py"
GRID = [0.0, 0.1, 0.2, 0.25, 0.34, 0.4, 0.5]
TOP_KEYS = [
    "sample_size",
    "wrong_sent_share_before",
    "wrong_sent_share_after",
    "answered_share_after",
    "generated_sent_share_after",
    "check_recall",
    "check_false_reject_rate",
    "oos_answered_share",
    "adversarial_total",
    "adversarial_caught",
    "paraphrases_total",
    "paraphrases_replaced",
    "check_ms_p50_per_sentence",
    "first_visible_token_ms_p50",
]
TARGETS = {
    "wrong_sent_share_after": "<= 0.02",
    "answered_share_after": ">= 0.60",
    "generated_sent_share_after": ">= 0.20",
    "oos_answered_share": "0",
    "check_ms_p50_per_sentence": "<= 30",
}


async def _replay_all(rows, config, embed, name) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return {
        r["id"]: await replay_record(r, config, embed, name) for r in rows if r["route"] == "llm"
    }


def _replays(rows: list[dict[str, Any]], t: float, embed: Any, name: str) -> dict[str, Any]:
    return asyncio.run(_replay_all(rows, bench_config(max_unsupported_share=t), embed, name))


def _outs(rows, replays, judge) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [fig.outcome(r, replays.get(r["id"]), judge) for r in rows]


class CachedEmbed:
    """An embed function that remembers each text's vector (the replays repeat passages)."""

    def __init__(self, embed: Callable[[Sequence[str]], Any]) -> None:
        self.embed = embed
        self.seen: dict[str, Any] = {}

    def __call__(self, texts: Sequence[str]) -> Any:
        """Rows for ``texts``, computing only the new ones (one batch)."""
        new = list(dict.fromkeys(t for t in texts if t not in self.seen))
        if new:
            self.seen.update(zip(new, self.embed(new), strict=True))
        return np.stack([self.seen[t] for t in texts]) if texts else self.embed(texts)


def _records(model: str, split: str, ids: set[str]) -> list[dict[str, Any]]:
    rows = [r for r in read_records(records_path(model, split)) if r["id"] in ids]
    if len(rows) < len(ids):
        print(f"  note: {model}/{split}: {len(rows)} of {len(ids)} queries have records")
    return sorted(rows, key=lambda r: r["id"])


def _sets(t: float, embed: Any, name: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        out = {}
        for stem, items in load_sets().items():
            res = []
            for i, item in enumerate(items):
                r = await replay_item(item, bench_config(max_unsupported_share=t), embed, name)
                res.append({**r, "item_id": item.get("id", f"{stem}-{i}")})
            out[stem] = fig.set_figures(stem, res)
        return out

    return asyncio.run(go())


def run_check(args, settings, product, model, res, queries) -> None:  # type: ignore[no-untyped-def]
    """Choose max_unsupported_share on dev, then every figure of the check on test."""
    from backend.knowledge.indexing import query_embedder_for

    judge = load_judge()
    if judge is None:
        sys.exit("error: check needs bench/grounding_rubric.py (load_rubric, judge_answer)")
    embedder = query_embedder_for(settings)
    embedder.embed(["warm up"])
    # the API's embedder caches query vectors too (QueryCache); the timed test replay below
    # uses the uncached one, so check_ms is what a sentence never seen before costs
    embed, name = CachedEmbed(embedder.embed), product.name
    ids = {s: {q.id for q in queries(args, s)} for s in ("test", "dev", "oos")}
    rows = {s: _records(model, s, ids[s]) for s in ids}
    out: dict[str, Any] = {"generator": model}
    if rows["dev"]:
        grid = {
            t: fig.summary(_outs(rows["dev"], _replays(rows["dev"], t, embed, name), judge))
            for t in GRID
        }
        chosen, rule = fig.choose_threshold(grid, args.min_answered, args.min_generated)
        print("\ndev grid (max_unsupported_share: wrong / answered / generated):")
        for t, s in grid.items():
            print(
                f"  {t:<5} {s['wrong_sent_share_after']} / {s['answered_share_after']} / "
                f"{s['generated_sent_share_after']}"
            )
        out["dev_grid"] = {str(t): s for t, s in grid.items()}
    elif "max_unsupported_share" in res:
        chosen, rule = res["max_unsupported_share"], "no dev records: the default generator's"
    else:
        chosen, rule = 0.0, "no dev records: the setting's default"
    print(f"chosen max_unsupported_share {chosen} ({rule})")
    out.update(max_unsupported_share=chosen, max_unsupported_share_rule=rule)
    print(f"test: replaying {len(rows['test'])} records at {chosen} ...", flush=True)
    test_rep = _replays(rows["test"], chosen, embedder.embed, name)
    test_outs = _outs(rows["test"], test_rep, judge)
    s = fig.summary(test_outs)
    out.update(s)
    out["bounds"] = "two-sided 95 % Wilson score interval, upper end (_upper95)"
    if chosen != 0.0:
        s0 = fig.summary(_outs(rows["test"], _replays(rows["test"], 0.0, embed, name), judge))
        out["test_at_max_unsupported_share_0"] = s0
    out.update(fig.check_cost(list(test_rep.values())))
    out["check_verdicts"] = fig.verdicts(list(test_rep.values()))
    if LABELS.exists():
        labels = [json.loads(x) for x in LABELS.read_text().splitlines() if x.strip()]
        from bench.grounding import DEFAULT_GENERATOR  # labels without one: the default's

        labels = [lab for lab in labels if lab.get("generator", DEFAULT_GENERATOR) == model]
        q = fig.label_quality(labels, test_rep)
        out.update(q)
        out["check_quality_at_0"] = fig.label_quality(
            labels,
            _replays(
                [r for r in rows["test"] if r["id"] in {x["id"] for x in labels}], 0.0, embed, name
            ),
        )
    else:
        out.update(
            check_recall=None,
            check_false_reject_rate=None,
            check_quality_note=f"no hand labels at {LABELS.relative_to(ROOT)} yet",
        )
    if rows["oos"]:
        o = fig.summary(_outs(rows["oos"], _replays(rows["oos"], chosen, embed, name), judge))
        out["oos"] = {k: o[k] for k in ("sample_size", "routes", "sent_by", "llm_routed")}
        out["oos_answered_share"] = o["answered_share_after"]
        out["oos_answered_share_upper95"] = o["answered_share_after_upper95"]
    sets = _sets(chosen, embed, name)
    adv = next((v for k, v in sets.items() if "advers" in k), None)
    par = next((v for k, v in sets.items() if "paraphras" in k), None)
    out["sets"] = sets
    out.update(adversarial_total=adv and adv["total"], adversarial_caught=adv and adv["caught"])
    out.update(paraphrases_total=par and par["total"], paraphrases_replaced=par and par["replaced"])
    if (s["wrong_sent_share_after"] or 0) > 0.02 and rows["dev"]:
        dev_outs = _outs(rows["dev"], _replays(rows["dev"], chosen, embed, name), judge)
        sweep = fig.confidence_sweep(dev_outs, bench_config(), args.min_answered)
        out["wrong_target_analysis"] = {
            "test_wrong_by_cause": s["wrong_after_by_cause"],
            "causes": "wrong_entry: the top passage is another intent's FAQ entry (intent or "
            "retrieval picked it); text: the right entry was first but the sent text fails "
            "the rubric",
            "dev_min_confidence_sweep": sweep,
            "dev_lowest_meeting": next((r for r in sweep if r["meets"]), None),
        }
    out["generation"] = {sp: fig.generation_stats(rows[sp]) for sp in rows if rows[sp]}
    out["wrong_examples"] = [
        {k: o.get(k) for k in ("id", "intent", "sent_by", "cause", "why")}
        | {"text": test_rep[o["id"]]["sent_text"][:300]}
        for o in test_outs
        if o["answered"] and o.get("wrong")
    ][:40]
    subset = [o for o in test_outs if o["id"].endswith("-0")]
    out["per_intent_1_subset"] = fig.summary(subset) if subset else None
    _merge(res, model, out, args)
    print_table(out)


def _merge(res: dict[str, Any], model: str, out: dict[str, Any], args: Any) -> None:
    from bench.grounding import DEFAULT_GENERATOR

    keep = [
        "sample_size",
        "wrong_sent_share_before",
        "wrong_sent_share_after",
        "answered_share_after",
        "generated_sent_share_after",
        "max_unsupported_share",
        "generation",
    ]
    res.setdefault("generators", {})[model] = {
        **{k: out.get(k) for k in keep},
        "per_intent_1_subset": out.get("per_intent_1_subset"),
    }
    if model == DEFAULT_GENERATOR and args.per_intent >= 5:  # the full sample only
        res.update(out)
        res.setdefault("first_visible_token_ms_p50", None)
        res["settings"] = {
            **res.get("settings", {}),
            "seed": args.seed,
            "per_intent": args.per_intent,
            "dev_per_intent": args.dev_per_intent,
            "assistant": {
                k: v for k, v in bench_config().model_dump().items() if not k.endswith("_reply")
            },
            "fast_path": "off (fast_path_min_confidence = fast_path_min_similarity = 1.0)",
            "embedder": "ONNX query embedder (backend.knowledge.indexing.query_embedder_for)",
        }


def print_table(out: dict[str, Any]) -> None:
    """One figure a line, with its target where the issue sets one."""
    print(f"\ngrounding, {out['generator']} (max_unsupported_share {out['max_unsupported_share']})")
    for k in TOP_KEYS:
        v, up = out.get(k), out.get(f"{k}_upper95")
        extra = f"  (95 % upper {up})" if up is not None else ""
        print(f"  {k:<32}{v!s:>10}  {TARGETS.get(k, '')}{extra}")


def run_live_phase(args, settings, product, model, res, queries, generator, pen) -> None:  # type: ignore[no-untyped-def]
    """Live through the API, once the pipeline runs the check; else a null with a reason."""
    if not re.search(r"GroundedStream|GroundingChecker", PIPELINE.read_text()):
        res["first_visible_token_ms_p50"] = None
        res["first_visible_token_note"] = "pipeline does not run the grounding check yet"
        print("live: skipped (pipeline without the grounding check)")
        return
    from backend.knowledge.indexing import query_embedder_for

    t = float(res.get("max_unsupported_share", 0.0))
    ids = {q.id for q in queries(args, "test")}
    rows = _records(model, "test", ids)
    chosen = pick(rows, args.live_size)
    embed = query_embedder_for(settings).embed
    offline = _replays(chosen, t, embed, product.name)
    assistant = {**bench_config(max_unsupported_share=t).model_dump(exclude={"persona"})}
    with generator(args) as (url, served):
        live = run_live(
            settings, product, url, served, rows, offline, assistant, pen, args.live_size
        )
    res["live"] = live
    res["first_visible_token_ms_p50"] = live["first_visible_token_ms_p50"]
    print(
        f"\nlive (n={live['n']}): "
        + ", ".join(f"{k} {v}" for k, v in live.items() if k != "records")
    )
