"""`deskpilot kb`: add, list, remove and search a product's knowledge from the shell.

These commands run in this process (no worker needed), with a progress bar; running API
processes pick up the new index within seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from backend.cli.common import console, db_session, fail, settings_or_exit

kb_app = typer.Typer(
    help="Knowledge base: add FAQ files, documents and URLs; search them.", no_args_is_help=True
)
ProductOpt = Annotated[str, typer.Option("--product", "-p", help="Product slug, e.g. demo-bank.")]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@kb_app.command("add")
def kb_add(
    source: Annotated[
        str,
        typer.Argument(
            help="A file (CSV/JSON/JSONL FAQ, Markdown, HTML, PDF, DOCX, text) or an http(s) URL."
        ),
    ],
    product: ProductOpt,
    name: Annotated[
        str | None,
        typer.Option(help="Document name [default: the file name]. Same name = replace."),
    ] = None,
) -> None:
    """Add or replace a document and rebuild the product's index."""
    from backend.core.errors import DeskpilotError
    from backend.knowledge import ingest, service
    from backend.products.service import require_product_by_slug

    settings = settings_or_exit()
    is_url = source.startswith(("http://", "https://"))
    try:
        if is_url:
            path, filename = service.stage_url(settings, source)
        else:
            src = Path(source)
            if not src.is_file():
                raise fail(f"no such file: {source}")
            folder = service.staging_dir(settings)
            path = folder / service.safe_name(src.name)
            shutil.copyfile(src, path)
            filename = path.name
        doc_name = service.safe_name(name) if name else filename
        try:
            kind = service.preflight(settings, path, doc_name)
            with db_session() as session, _progress() as bar:
                target = require_product_by_slug(session=session, slug=product)
                task = bar.add_task(f"{doc_name} ({kind})", total=100)
                result = ingest.ingest_file(
                    session=session,
                    settings=settings,
                    product_id=target.id or 0,
                    path=path,
                    name=doc_name,
                    source_uri=source if is_url else None,
                    progress=lambda f, m: bar.update(
                        task, completed=100 * f, description=f"{doc_name}: {m}"
                    ),
                )
        finally:
            service.discard_staged(path)
    except DeskpilotError as exc:
        raise fail(exc.message) from None
    if result.unchanged:
        console.print(
            f"{doc_name}: unchanged (same content as version {result.version}); nothing to do"
        )
        return
    console.print(
        f"{doc_name}: version {result.version}, {result.chunk_count} chunks, "
        f"index {result.index_version}"
    )
    for warning in result.warnings[:10]:
        console.print(f"  warning: {warning}")


@kb_app.command("list")
def kb_list(product: ProductOpt) -> None:
    """List the product's documents."""
    from backend.knowledge import service
    from backend.products.service import require_product_by_slug

    table = Table("id", "name", "type", "version", "chunks", "status", "updated")
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        for d in service.list_documents(session=session, product_id=target.id or 0):
            table.add_row(
                str(d.id),
                d.name,
                d.source_type,
                str(d.version),
                str(d.chunk_count),
                str(d.status),
                d.updated_at.strftime("%Y-%m-%d %H:%M"),
            )
    console.print(table)


@kb_app.command("remove")
def kb_remove(
    name: Annotated[str, typer.Argument(help="Document name (see `kb list`).")], product: ProductOpt
) -> None:
    """Remove a document and rebuild the index without it."""
    from backend.knowledge import ingest
    from backend.knowledge.models import DocumentStatus
    from backend.products.service import require_product_by_slug

    settings = settings_or_exit()
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        doc = ingest.find_document(session, target.id or 0, name)
        if doc is None:
            raise fail(f"product {product} has no document named '{name}'")
        doc.status = DocumentStatus.deleting  # hidden from answers while the index rebuilds
        session.add(doc)
        session.commit()
        version = ingest.remove_document(
            session=session, settings=settings, document_id=doc.id or 0
        )
    console.print(f"removed {name}; index {version}")


@kb_app.command("reindex")
def kb_reindex(
    product: ProductOpt,
    reembed: Annotated[
        bool,
        typer.Option(help="Embed everything again (after changing DESKPILOT_EMBEDDING_MODEL)."),
    ] = False,
) -> None:
    """Rebuild the product's index from its stored documents."""
    from backend.knowledge import ingest
    from backend.products.service import require_product_by_slug

    settings = settings_or_exit()
    with db_session() as session, _progress() as bar:
        target = require_product_by_slug(session=session, slug=product)
        task = bar.add_task("re-indexing", total=100)
        version = ingest.reindex_product(
            session=session,
            settings=settings,
            product_id=target.id or 0,
            reembed=reembed,
            progress=lambda f, m: bar.update(task, completed=100 * f, description=m),
        )
    console.print(f"index {version} is active")


@kb_app.command("search")
def kb_search(
    query: Annotated[str, typer.Argument(help="What a customer might ask.")],
    product: ProductOpt,
    k: Annotated[int, typer.Option(min=1, max=50, help="How many chunks.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
) -> None:
    """Retrieval test: the ranked chunks for a query, with their scores."""
    from backend.core.db import make_engine
    from backend.knowledge.runtime import KnowledgeRuntime
    from backend.products.service import require_product_by_slug

    if mode not in ("hybrid", "dense", "bm25"):
        raise fail("--mode must be hybrid, dense or bm25")
    settings = settings_or_exit()
    with db_session() as session:
        product_id = require_product_by_slug(session=session, slug=product).id or 0
    runtime = KnowledgeRuntime(settings, make_engine(settings.sqlalchemy_url))
    version, hits = runtime.search(product_id, query, k, mode=mode)  # type: ignore[arg-type]
    if version is None:
        raise fail(f"product {product} has no knowledge index yet: add documents first")
    table = Table("#", "score", "dense", "bm25", "category", "title", title=f"index {version}")
    for h in hits:
        table.add_row(
            str(h.rank),
            f"{h.score:.4f}",
            f"{h.details.get('dense', 0):.3f}",
            f"{h.details.get('bm25', 0):.2f}",
            str(h.chunk.metadata.get("category") or ""),
            h.chunk.title[:70],
        )
    console.print(table)
