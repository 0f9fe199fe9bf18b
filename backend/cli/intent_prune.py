"""`deskpilot intent prune`: remove old intent model versions' folders (registered on
``intent_app`` by :mod:`backend.cli.intent`)."""

from __future__ import annotations

from typing import Annotated

import typer

from backend.cli.common import console, db_session, fail, settings_or_exit


def intent_prune(
    product: Annotated[str, typer.Option("--product", "-p", help="Product slug, e.g. demo-bank.")],
    keep: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Newest versions to keep besides the protected ones. Default: the "
            "DESKPILOT_INTENT_KEEP_VERSIONS setting (5).",
        ),
    ] = None,
) -> None:
    """Remove the folders of old intent model versions, keeping the newest --keep ones and the
    protected ones: the active version, the one active before it (for a rollback) and any
    version a pending job, an alias or a canary points to. Pruned versions stay listed in
    `intent models` (marked pruned) with their metrics; they can no longer be activated.
    The worker prunes this way after every successful training."""
    from backend.intents.pruning import prune_models
    from backend.products.service import require_product_by_slug

    settings = settings_or_exit()
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        try:
            report = prune_models(
                session=session, settings=settings, product_id=target.id or 0, keep=keep
            )
        except OSError as exc:
            raise fail(f"pruning failed: {exc}") from None
    pruned = ", ".join(report.pruned) or "none"
    console.print(
        f"pruned {len(report.pruned)} version(s): {pruned}; kept {len(report.kept)} "
        f"(protected: {', '.join(report.protected) or 'none'}); "
        f"freed {report.freed_bytes / 1e6:.1f} MB"
    )
    if report.leftovers:
        console.print(f"removed leftovers of crashed trainings: {', '.join(report.leftovers)}")
