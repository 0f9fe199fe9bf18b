"""Grounding bench (issue 17, "grounded or silent"): how often a generated answer that is wrong
reaches a visitor, before and after the grounding check, on the demo product with the fast path
off (every answered query goes through the generator).

Phases (``--phases a,b``):
  tune      3 penalty settings (frequency, repetition) on 24 dev queries: rubric correctness,
            loops, length; the best is used by ``generate`` (unless given) and reported
  generate  per query, the production decision in this process (language, intent model, policy,
            retrieval with the intent boost, floor) and, when it reaches the generator, the
            pipeline's prompt sent to vLLM (8 requests at a time); raw answers to
            var/bench/grounding/<generator>-<split>.jsonl (resumable: done ids are skipped)
  check     offline (no server): each raw answer replayed through the pipeline's GroundedStream
            (sentence holding, GroundingChecker with the ONNX embedder, judge, repetition stop)
            and its replacement; max_unsupported_share chosen on dev, figures on test (rubric:
            bench/grounding_rubric.py), hand labels, CLINC150 oos, data/grounding sets
  live      40 test queries through a real API process (widget SSE): first visible token,
            agreement of the live decision with the offline replay

Samples: test = BANKING77 test.csv, 5 per intent (385); dev = train.csv, 2 per intent (154, no
demo intent example); oos = CLINC150 oos_train + oos_val (200). Fixed seed.

    .venv/bin/python bench/grounding.py --phases tune,generate        # starts vLLM itself
    .venv/bin/python bench/grounding.py --phases check
    .venv/bin/python bench/grounding.py --phases generate --split test --per-intent 1 \\
        --generator-url http://127.0.0.1:8002 --generator-name gemma-3-270m-it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import chat_setup as setup  # noqa: E402
from bench import grounding_data as data  # noqa: E402
from bench import grounding_gen as gen  # noqa: E402
from bench import grounding_report as report  # noqa: E402
from bench import grounding_tune as tune  # noqa: E402
from ml.generation.client import OpenAIChatClient  # noqa: E402

PHASES = ("tune", "generate", "check", "live")
DEFAULT_GENERATOR = setup.bench_settings(setup.WORLD).llm_model
SETTINGS = setup.bench_settings(setup.WORLD)
PENALTY_TRIAL = [(0.0, None), (0.3, 1.1), (0.5, 1.2)]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--phases", default="generate,check", help=f"comma separated, of {', '.join(PHASES)}")
    add("--split", default="test,dev,oos", help="splits to generate (%(default)s)")
    add("--per-intent", type=int, default=5, help="test queries per intent (%(default)s)")
    add("--dev-per-intent", type=int, default=2, help="dev queries per intent (%(default)s)")
    add("--oos-size", type=int, default=200, help="CLINC150 oos texts (%(default)s)")
    add("--seed", type=int, default=17, help="sample seed (%(default)s)")
    add(
        "--generator-url",
        help="root URL of a running OpenAI-compatible server (default: start "
        "vLLM-CPU with infra/vllm/serve.sh on a free port)",
    )
    add(
        "--generator-name",
        help="model name to request and to name the records by (default: "
        f"the server's first /v1/models entry; check: {DEFAULT_GENERATOR})",
    )
    add("--concurrency", type=int, default=8, help="requests in flight (%(default)s)")
    add("--max-tokens", type=int, help="max_tokens (default: the product's max_answer_tokens)")
    add("--frequency-penalty", type=float, help="default: tune's choice, else the settings'")
    add("--repetition-penalty", type=float, help="default: tune's choice, else the settings'")
    add("--tune-size", type=int, default=24, help="tune: dev queries (%(default)s)")
    add("--live-size", type=int, default=40, help="live: test queries (%(default)s)")
    add("--min-answered", type=float, default=0.60, help="check: answered floor (%(default)s)")
    add("--min-generated", type=float, default=0.20, help="check: generated floor (%(default)s)")
    add("--data", type=Path, default=data.DATASETS / "banking77", help="BANKING77 folder")
    add("--clinc", type=Path, default=data.DATASETS / "clinc150", help="CLINC150 folder")
    add("--out", type=Path, default=ROOT / "bench/results/grounding.json")
    add("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    args.phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    args.split = [x.strip() for x in args.split.split(",") if x.strip()]
    if bad := [x for x in args.phases if x not in PHASES] + [
        x for x in args.split if x not in data.SPLITS
    ]:
        p.error(f"unknown phase or split {bad}")
    return args


def queries(args: argparse.Namespace, split: str) -> list[data.Query]:
    per = args.per_intent if split == "test" else args.dev_per_intent
    return data.load_split(
        split,
        data=args.data,
        clinc=args.clinc,
        per_intent=per,
        seed=args.seed,
        oos_size=args.oos_size,
    )


@contextlib.contextmanager
def generator(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """(root URL, model name) of the generator: the given server, or our own vLLM-CPU."""
    with setup.vllm_server(setup.WORLD, args.generator_url) as url:
        yield url, args.generator_name or setup.served_model(url)


def penalties(args: argparse.Namespace, res: dict[str, Any]) -> dict[str, float | None]:
    """The penalties of ``generate``: the options, else tune's choice, else the settings'."""
    chosen = (res.get("penalty_trial") or {}).get("chosen") or {}
    out = {}
    for name in ("frequency_penalty", "repetition_penalty"):
        given = getattr(args, name)
        default = chosen[name] if name in chosen else getattr(SETTINGS, f"llm_{name}")
        out[name] = given if given is not None else default
    return out


def client_for(url: str, model: str) -> OpenAIChatClient:
    return OpenAIChatClient(f"{url}/v1", model, read_timeout_s=180.0, connect_timeout_s=10.0)


def run_tune(args, decider, url, model, res) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    dev = [r for r in map(decider.decide, queries(args, "dev")) if r["route"] == "llm"]
    step = max(1, len(dev) // args.tune_size)
    pickd = [data.Query(r["id"], "dev", r["question"], r["intent"]) for r in dev[::step]]
    pickd = pickd[: args.tune_size]
    trial: dict[str, list[dict[str, Any]]] = {}
    for fp, rp in PENALTY_TRIAL:
        opts = tune_opts(args, decider, fp, rp)
        path = data.records_path(model, f"tune-f{fp:g}-r{rp or 1:g}")
        print(f"\ntune: frequency_penalty {fp}, repetition_penalty {rp}: {len(pickd)} dev queries")
        rows = asyncio.run(gen.run_split(decider, pickd, path, client_for(url, model), opts))
        trial[f"{fp:g}/{rp or 1:g}"] = rows
    return tune.penalty_trial(trial, PENALTY_TRIAL)


def tune_opts(args, decider, fp, rp) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "max_tokens": args.max_tokens or decider.config.max_answer_tokens,
        "frequency_penalty": fp or None,
        "repetition_penalty": rp,
        "concurrency": args.concurrency,
    }


def run_generate(args, decider, url, model, res) -> None:  # type: ignore[no-untyped-def]
    pen = penalties(args, res)
    opts = tune_opts(args, decider, pen["frequency_penalty"], pen["repetition_penalty"])
    print(f"\ngenerate with {model} at {url}: {opts}")
    for split in args.split:
        qs = queries(args, split)
        path = data.records_path(model, split)
        before = sum(1 for r in data.read_records(path) if r["route"] == "llm" and gen.done(r))

        def progress(
            count: int, total: int, path: Path = path, before: int = before, split: str = split
        ) -> None:
            if split == "test" and args.generator_url is None:
                gen.mark_ready(path, before + count, before + total)

        asyncio.run(gen.run_split(decider, qs, path, client_for(url, model), opts, progress))
        progress(0, 0)
        res.setdefault("generation_runs", {})[f"{model}/{split}"] = {
            "records": str(path.relative_to(ROOT)),
            "queries": len(qs),
            **opts,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


def main() -> None:
    args = parse_args()
    res: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}

    def save() -> None:
        res["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        if not args.no_write:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")

    settings, prods = setup.ensure_world(setup.WORLD, args.data, ["demo"])
    product = prods["demo"]
    if {"tune", "generate"} & set(args.phases):
        decider = gen.Decider(settings, product, gen.bench_config())
        with generator(args) as (url, model):
            if "tune" in args.phases:
                res["penalty_trial"] = tune.print_trial(run_tune(args, decider, url, model, res))
                save()
            if "generate" in args.phases:
                run_generate(args, decider, url, model, res)
                save()
    model = args.generator_name or DEFAULT_GENERATOR
    if "check" in args.phases:
        report.run_check(args, settings, product, model, res, queries)
        save()
    if "live" in args.phases:
        pen = penalties(args, res)
        report.run_live_phase(args, settings, product, model, res, queries, generator, pen)
        save()
    if not args.no_write:
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
