"""`deskpilot intent`: list intents, import and export labelled examples.

(Training, evaluation, prediction and activation arrive with the intent model.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from backend.cli.common import console, db_session, fail
from backend.cli.intent_prune import intent_prune

intent_app = typer.Typer(
    help="Intents and their labelled examples (the intent gate's training data).",
    no_args_is_help=True,
)
ProductOpt = Annotated[str, typer.Option("--product", "-p", help="Product slug, e.g. demo-bank.")]
intent_app.command("prune")(intent_prune)


def _format_or_exit(path: Path) -> str:
    from backend.core.errors import DeskpilotError
    from backend.intents.service import import_format

    try:
        return import_format(path.name)
    except DeskpilotError as exc:
        raise fail(exc.message) from None


@intent_app.command("list")
def intent_list(product: ProductOpt) -> None:
    """List the product's intents with their example counts."""
    from backend.intents import service
    from backend.products.service import require_product_by_slug

    table = Table("intent", "examples", "reserved")
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        for i in service.list_intents(session=session, product_id=target.id or 0):
            table.add_row(i.name, str(i.examples), "yes" if i.reserved else "")
    console.print(table)


@intent_app.command("import")
def intent_import(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with text,intent columns, or JSONL with text and intent keys."),
    ],
    product: ProductOpt,
    create_missing: Annotated[
        bool, typer.Option(help="Create intents the file names but the product lacks.")
    ] = False,
) -> None:
    """Import labelled examples in one transaction; prints what was added, skipped and why."""
    from backend.intents import service
    from backend.intents.importer import import_examples
    from backend.products.service import require_product_by_slug

    if not file.is_file():
        raise fail(f"no such file: {file}")
    fmt = _format_or_exit(file)
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        service.ensure_reserved(session=session, product_id=target.id or 0)
        report = import_examples(
            session=session,
            product_id=target.id or 0,
            path=file,
            fmt=fmt,
            create_missing=create_missing,
        )
    console.print(
        f"rows {report.rows}: added {report.added}, duplicates {report.duplicates}, "
        f"conflicting labels {report.conflicts} (kept as stored), empty {report.empty}"
    )
    if report.created_intents:
        console.print(f"created intents: {', '.join(report.created_intents)}")
    if report.unknown_intents:
        unknown = ", ".join(f"{k} ({v})" for k, v in report.unknown_intents.items())
        console.print(
            f"[yellow]skipped rows of unknown intents[/] (use --create-missing): {unknown}"
        )
    for line in report.conflict_samples[:10] + report.warnings[:10]:
        console.print(f"  {line}")


@intent_app.command("export")
def intent_export(
    product: ProductOpt,
    out: Annotated[Path, typer.Option(help="Output file (.csv or .jsonl).")],
) -> None:
    """Export every labelled example as CSV (text,intent) or JSONL."""
    from backend.intents import service
    from backend.products.service import require_product_by_slug

    fmt = _format_or_exit(out)
    tmp = out.with_name(out.name + ".part")
    with db_session() as session, tmp.open("w", encoding="utf-8", newline="") as fh:
        target = require_product_by_slug(session=session, slug=product)
        for piece in service.export_examples(session=session, product_id=target.id or 0, fmt=fmt):
            fh.write(piece)
    tmp.replace(out)  # never leave a half-written export under the requested name
    console.print(f"wrote {out}")


def _stream_pairs(path: Path) -> Iterator[tuple[str, str]]:
    """(text, intent) rows of a CSV/JSONL file, read lazily (a 1M-row file is never held twice)."""
    from backend.intents.importer import read_rows

    fmt = _format_or_exit(path)
    return ((text, label.strip()) for _, text, label in read_rows(path, fmt))


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    return list(_stream_pairs(path))


@intent_app.command("train")
def intent_train(
    out: Annotated[
        Path | None, typer.Option(help="Output folder for --data (must not exist).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="CSV/JSONL of text,intent to train on.")] = None,
    product: Annotated[
        str | None,
        typer.Option(
            "--product", "-p", help="Train on this product's examples and record the model."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, max=50, help="Cap the epochs.")] = None,
    strategy: Annotated[
        str,
        typer.Option(
            help="auto (frozen-encoder head below 3,000 examples, else full fine-tune), "
            "finetune or frozen_head."
        ),
    ] = "auto",
    second_opinion: Annotated[
        str | None,
        typer.Option(
            help="Bigger encoder (folder or weights package) whose frozen-head model decides "
            "when the model is unsure; 'none' trains without. Default: the "
            "DESKPILOT_INTENT_SECOND_OPINION_MODEL setting (all-mpnet-base-v2)."
        ),
    ] = None,
) -> None:
    """Train an intent classifier (progress bar with loss and ETA), from a file or a product.

    Writes calibration, thresholds, the trained weights and a validation report (report.json,
    reliability.png) into a versioned folder, with the second opinion's model in its
    second_opinion/ subfolder. A frozen-head model keeps only its head and example memory: its
    encoder and ONNX graphs (int8 when it passes the parity check) are stored once in the model
    cache (DESKPILOT_MODEL_CACHE); a fine-tuned model holds its own encoder and graph."""
    from dataclasses import replace

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from backend.cli.common import settings_or_exit
    from backend.core.errors import DeskpilotError
    from backend.intents.training import train_model_folder
    from ml.embeddings.resolve import ModelNotFound
    from ml.intent.data import DatasetError, clean_examples, require_trainable
    from ml.intent.train import TrainConfig

    if (data is None) == (product is None):
        raise fail("give either --data FILE (with --out DIR) or --product NAME")
    if strategy not in ("auto", "finetune", "frozen_head"):
        raise fail("--strategy must be auto, finetune or frozen_head")
    settings = settings_or_exit()
    if second_opinion is not None:
        chosen = "" if second_opinion.strip().lower() in ("", "none") else second_opinion
        settings = settings.model_copy(update={"intent_second_opinion_model": chosen})
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    )
    with bar:
        task = bar.add_task("training", total=100)
        update = lambda f, m: bar.update(task, completed=100 * f, description=m)  # noqa: E731
        try:
            if product is not None:
                from backend.intents.training import train_product_model
                from backend.products.service import require_product_by_slug

                with db_session() as session:
                    target = require_product_by_slug(session=session, slug=product)
                    model = train_product_model(
                        session=session,
                        settings=settings,
                        product_id=target.id or 0,
                        max_epochs=epochs,
                        progress=update,
                        strategy=strategy,
                    )
                    state = "active" if model.is_active else "not active"
                    summary = f"version {model.version} ({state}): {model.metrics}"
            else:
                assert data is not None
                if out is None:
                    raise fail("--out DIR is required with --data")
                texts, labels, report = clean_examples(_stream_pairs(data))
                require_trainable(report)
                for warning in report.warnings[:10]:
                    console.print(f"warning: {warning}")
                config = TrainConfig(base_model=settings.intent_base_model, strategy=strategy)
                if epochs is not None:
                    config = replace(config, max_epochs=epochs)
                result = train_model_folder(
                    texts, labels, out, settings=settings, config=config, progress=update
                )
                summary = f"wrote {result.model_dir}: {result.metrics}"
        except (DeskpilotError, DatasetError, FileExistsError, ModelNotFound) as exc:
            raise fail(getattr(exc, "message", str(exc))) from None
    console.print(summary)


@intent_app.command("eval")
def intent_eval(
    model: Annotated[Path, typer.Option(help="A model folder written by `intent train`.")],
    data: Annotated[Path, typer.Option(help="CSV/JSONL of text,intent to score.")],
    report: Annotated[
        Path | None,
        typer.Option(help="Write report.json and reliability.png into this folder."),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="auto (the parity-checked ONNX graph), onnx or torch.")
    ] = "auto",
) -> None:
    """Evaluate a model on labelled data: accuracy, macro-F1, ECE, out-of-scope precision and
    recall, the weakest intents and the pairs most often confused; optionally a full report.

    Labels the model does not know (and out_of_scope) count as out-of-scope examples."""
    from ml.intent.predictor import IntentPredictor
    from ml.intent.report import evaluation_report, write_report

    try:
        predictor = IntentPredictor(model, backend=backend)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    pairs = [(t, label) for t, label in _read_pairs(data) if t.strip()]
    if not pairs:
        raise fail("the data file has no rows")
    preds = predictor.predict_batch([t for t, _ in pairs])
    gold = [label for _, label in pairs]
    result = evaluation_report(gold, preds, predictor.labels, oos_label=predictor.oos_label)
    oos = result["out_of_scope"]
    console.print(
        f"rows {result['n']}  accuracy {result['accuracy']:.4f}  "
        f"macro-F1 {result['macro_f1']:.4f}  ECE {result['ece']:.4f}  ({predictor.backend})"
    )
    if oos["support"] or oos["flagged"]:
        console.print(
            f"out of scope: precision {oos['precision']:.3f}  recall {oos['recall']:.3f}  "
            f"(support {oos['support']}, flagged {oos['flagged']})"
        )
    weakest = sorted(result["per_intent"].items(), key=lambda kv: kv[1]["f1"])[:5]
    console.print("weakest intents: " + ", ".join(f"{k} F1 {v['f1']:.2f}" for k, v in weakest))
    for pair in result["confusions"][:5]:
        console.print(f"  confused: {pair['gold']} -> {pair['predicted']} ({pair['count']})")
    unknown = sorted(set(gold) - set(predictor.labels))
    if unknown:
        console.print(
            f"[yellow]labels the model does not know (scored as out of scope)[/]: "
            f"{', '.join(unknown[:20])}"
        )
    if report is not None:
        write_report(result, report, title=f"{predictor.version} on {data.name}")
        console.print(f"wrote {report / 'report.json'} and {report / 'reliability.png'}")


@intent_app.command("export-onnx")
def intent_export_onnx(
    model: Annotated[Path, typer.Option(help="A model folder written by `intent train`.")],
    data: Annotated[Path, typer.Option(help="CSV/JSONL whose texts check ONNX parity.")],
) -> None:
    """Add parity-checked ONNX graphs (int8, else fp32) to a model trained without them."""
    from ml.intent.artifact import add_onnx

    try:
        texts = [t for t, _ in _read_pairs(data) if t.strip()]
        if not texts:
            raise fail("the data file has no rows")
        manifest = add_onnx(model, texts)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    info = manifest["onnx"]
    console.print(
        f"serving {info['serving']}: int8 agreement {info['agreement_int8']:.4f}, "
        f"fp32 agreement {info['agreement_fp32']:.4f} on {info['parity_texts']} texts"
    )


@intent_app.command("predict")
def intent_predict(
    text: Annotated[str, typer.Argument(help="A customer message.")],
    model: Annotated[Path, typer.Option(help="A model folder written by `intent train`.")],
) -> None:
    """Classify one message: intent, calibrated confidence, out-of-scope flag, top-3."""
    from ml.intent.predictor import IntentPredictor

    try:
        p = IntentPredictor(model).predict(text)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    top = ", ".join(f"{name} {score:.3f}" for name, score in p.top_k)
    console.print(
        f"{p.intent}  confidence {p.confidence:.3f}  out_of_scope {p.is_out_of_scope}  top: {top}"
    )


@intent_app.command("activate")
def intent_activate(
    version: Annotated[str, typer.Argument(help="A version from `intent models`.")],
    product: ProductOpt,
) -> None:
    """Serve this model version for the product (API processes swap within seconds)."""
    from backend.intents.versions import activate_version
    from backend.products.service import require_product_by_slug

    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        activate_version(session=session, product_id=target.id or 0, version=version)
    console.print(f"version {version} is active for {product}")


@intent_app.command("models")
def intent_models(product: ProductOpt) -> None:
    """List the product's trained models and their validation metrics."""
    from backend.intents.versions import list_models
    from backend.products.service import require_product_by_slug

    table = Table("version", "active", "intents", "examples", "val acc", "ECE", "created")
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        for m in list_models(session=session, product_id=target.id or 0):
            table.add_row(
                m.version,
                "yes" if m.is_active else ("pruned" if m.pruned_at else ""),
                str(m.n_intents),
                str(m.n_examples),
                f"{m.metrics.get('val_accuracy', 0):.3f}",
                f"{m.metrics.get('ece_after', 0):.3f}",
                m.created_at.strftime("%Y-%m-%d %H:%M"),
            )
    console.print(table)
