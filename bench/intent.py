"""Intent benchmark: deskpilot's classifier against TF-IDF+LR and frozen-MiniLM+LR on BANKING77
(full and 10-shot) and out-of-scope detection on CLINC150. Sections run separately and merge into
bench/results/intent.json, since a full fine-tune takes long on 2 cores:

    .venv/bin/python bench/intent.py --section banking77         # ~1 h on 2 cores
    .venv/bin/python bench/intent.py --section banking77_10shot  # minutes
    .venv/bin/python bench/intent.py --section clinc150 --strategy frozen_head

Trained models are kept under var/bench/<section>-<strategy>; a rerun reuses a folder that
exists (its recorded training time is reported) unless --retrain is given.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intent_baselines import latency_ms, minilm_logreg, tfidf_logreg  # noqa: E402
from ml.intent.artifact import add_onnx, read_manifest  # noqa: E402
from ml.intent.data import stratified_split  # noqa: E402
from ml.intent.evaluation import macro_f1  # noqa: E402
from ml.intent.predictor import IntentPredictor  # noqa: E402
from ml.intent.report import evaluation_report  # noqa: E402
from ml.intent.train import TrainConfig, train_intent_model  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results" / "intent.json"
SECTIONS = ("banking77", "banking77_10shot", "clinc150")
Pairs = list[tuple[str, str]]


def _banking(data: Path, split: str) -> Pairs:
    path = data / "banking77" / f"{split}.csv"
    if not path.exists():
        sys.exit(f"error: {path} not found; pass --data pointing at the datasets folder")
    with path.open(encoding="utf-8") as fh:
        return [(r["text"], r["category"]) for r in csv.DictReader(fh)]


def _few_shot(pairs: Pairs, k: int, seed: int) -> Pairs:
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in pairs:
        by_label[label].append(text)
    rng = random.Random(seed)
    return [(t, label) for label in sorted(by_label) for t in rng.sample(by_label[label], k)]


def _train(
    name: str,
    train: Pairs,
    config: TrainConfig,
    retrain: bool,
    validation: tuple[list[str], list[str]] | None = None,
) -> Path:
    folder = ROOT / "var" / "bench" / f"{name}-{config.strategy}"
    if folder.exists() and retrain:
        shutil.rmtree(folder)
    if not folder.exists():
        last = [-1]

        def progress(fraction: float, message: str) -> None:
            if int(fraction * 100) != last[0] or "validation" in message:
                last[0] = int(fraction * 100)
                print(f"  [{name}] {100 * fraction:5.1f}% {message}", flush=True)

        train_intent_model(
            [t for t, _ in train],
            [label for _, label in train],
            folder,
            config=config,
            progress=progress,
            validation=validation,
        )
    elif "onnx" not in read_manifest(folder):  # trained before ONNX export existed: add it
        labels = [label for _, label in train]
        _, val_idx = stratified_split(labels, val_fraction=config.val_fraction, seed=config.seed)
        texts = validation[0] if validation else [train[i][0] for i in val_idx]
        print(f"  [{name}] exporting ONNX, parity on {len(texts)} validation texts", flush=True)
        add_onnx(folder, texts)
    return folder


def _deskpilot(folder: Path, test: Pairs, latency_texts: list[str]) -> dict[str, Any]:
    serving = IntentPredictor(folder)
    torch_path = IntentPredictor(folder, backend="torch")
    preds = serving.predict_batch([t for t, _ in test])
    gold = [label for _, label in test]
    # BANKING77 has no out-of-scope queries: accuracy is the top intent's, as for the baselines;
    # how many the gate would still have flagged as unsure is reported next to it.
    top = [p.intent for p in preds]
    report = evaluation_report(gold, preds, serving.labels, oos_label=None)
    manifest = read_manifest(folder)
    return {
        "accuracy": round(sum(g == t for g, t in zip(gold, top, strict=True)) / len(gold), 4),
        "macro_f1": round(macro_f1(gold, top), 4),
        "ece": report["ece"],
        "flagged_unsure": round(sum(p.is_out_of_scope for p in preds) / len(preds), 4),
        **latency_ms(serving.predict, latency_texts),
        "latency_ms_p50_torch": latency_ms(torch_path.predict, latency_texts)["latency_ms_p50"],
        "train_s": manifest.get("train_s"),
        "serving": serving.backend,
        "strategy": manifest.get("strategy"),
        "epochs": manifest.get("epochs"),
        "onnx_agreement_int8": (manifest.get("onnx") or {}).get("agreement_int8"),
    }


def banking77(args: argparse.Namespace, shots: int | None) -> dict[str, Any]:
    train, test = _banking(args.data, "train"), _banking(args.data, "test")
    if shots:
        train = _few_shot(train, shots, args.seed)
    latency_texts = [t for t, _ in test[:: max(1, len(test) // args.latency_n)]][: args.latency_n]
    out: dict[str, Any] = {}
    suffix = f"_{shots}shot" if shots else ""
    print(f"banking77{suffix}: {len(train)} train, {len(test)} test", flush=True)
    out[f"tfidf_logreg{suffix}"] = tfidf_logreg(train, test, latency_texts)
    out[f"minilm_logreg{suffix}"] = minilm_logreg(train, test, latency_texts)
    strategy = args.strategy or ("auto" if shots else "finetune")
    config = TrainConfig(
        strategy=strategy,
        learning_rate=args.lr,
        max_epochs=args.epochs,
        val_fraction=0.1 if not shots else 0.2,
        seed=args.seed,
    )
    folder = _train(f"banking77{suffix}", train, config, args.retrain)
    out[f"deskpilot{suffix}"] = _deskpilot(folder, test, latency_texts)
    return out


def clinc150(args: argparse.Namespace) -> dict[str, Any]:
    path = args.data / "clinc150" / "train_val.json"
    if not path.exists():
        sys.exit(f"error: {path} not found; pass --data pointing at the datasets folder")
    raw = json.loads(path.read_text(encoding="utf-8"))
    oos = "out_of_scope"

    def pairs(key: str) -> Pairs:
        return [(t, oos if label == "oos" else label) for t, label in raw[key]]

    train = pairs("train") + pairs("oos_train")
    held = pairs("val") + pairs("oos_val")
    tune_idx, report_idx = stratified_split(
        [label for _, label in held], val_fraction=0.5, seed=args.seed
    )
    tune = [held[i] for i in tune_idx]
    final = [held[i] for i in report_idx]
    print(f"clinc150: {len(train)} train, {len(tune)} tune, {len(final)} report", flush=True)
    config = TrainConfig(
        strategy=args.strategy or "finetune",
        learning_rate=args.lr,
        max_epochs=args.epochs,
        seed=args.seed,
        target_oos_precision=args.oos_precision,
    )
    folder = _train(
        "clinc150",
        train,
        config,
        args.retrain,
        validation=([t for t, _ in tune], [label for _, label in tune]),
    )
    predictor = IntentPredictor(folder)
    preds = predictor.predict_batch([t for t, _ in final])
    report = evaluation_report([label for _, label in final], preds, predictor.labels)
    manifest = read_manifest(folder)
    return {
        "in_scope_accuracy": report["in_scope_accuracy"],
        "oos_recall": report["out_of_scope"]["recall"],
        "oos_precision": report["out_of_scope"]["precision"],
        "overall_accuracy": report["accuracy"],
        "ece": report["ece"],
        "threshold": manifest["threshold"],
        "strategy": manifest.get("strategy"),
        "train_s": manifest.get("train_s"),
        "report_n": report["n"],
    }


def _print(results: dict[str, Any]) -> None:
    cols = (
        "accuracy",
        "macro_f1",
        "ece",
        "latency_ms_p50",
        "latency_ms_p99",
        "latency_ms_p50_torch",
        "train_s",
    )
    if "banking77" in results:
        print(f"\n{'method':<26}" + "".join(f"{c:>22}" for c in cols))
        for name, row in results["banking77"].items():
            cells = "".join(
                f"{row[c]:>22.4f}" if isinstance(row.get(c), float) else f"{'-':>22}" for c in cols
            )
            print(f"{name:<26}{cells}")
    if "clinc150" in results:
        print("\nclinc150: " + ", ".join(f"{k} {v}" for k, v in results["clinc150"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--section", choices=SECTIONS, action="append", help="default: all")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared datasets folder")
    parser.add_argument("--strategy", choices=("auto", "finetune", "frozen_head"), default=None)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--oos-precision", type=float, default=0.9, help="CLINC150 target")
    parser.add_argument("--latency-n", type=int, default=300, help="queries timed one by one")
    parser.add_argument("--retrain", action="store_true", help="ignore a saved model folder")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for section in args.section or list(SECTIONS):
        if section == "clinc150":
            results["clinc150"] = clinc150(args)
        else:
            shots = 10 if section == "banking77_10shot" else None
            results.setdefault("banking77", {}).update(banking77(args, shots))
    _print(results)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
