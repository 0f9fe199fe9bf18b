"""`deskpilot intent`: list intents, import and export labelled examples.

(Training, evaluation, prediction and activation arrive with the intent model.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from backend.cli.common import console, db_session, fail

intent_app = typer.Typer(
    help="Intents and their labelled examples (the intent gate's training data).",
    no_args_is_help=True,
)
ProductOpt = Annotated[str, typer.Option("--product", "-p", help="Product slug, e.g. demo-bank.")]


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
