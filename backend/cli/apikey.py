"""`deskpilot apikey`: create, list and revoke API keys of the OpenAI-compatible endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from backend.cli.common import console, db_session, fail

apikey_app = typer.Typer(
    help="API keys for /v1/chat/completions (send as 'Authorization: Bearer <key>').",
    no_args_is_help=True,
)
ProductOpt = Annotated[str, typer.Option("--product", "-p", help="Product slug, e.g. demo-bank.")]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@apikey_app.command("create")
def apikey_create(
    product: ProductOpt,
    name: Annotated[
        str, typer.Option("--name", "-n", help="What the key is for, e.g. 'helpdesk bot'.")
    ],
) -> None:
    """Create a key for the product and print it. It is shown this once: only a hash is kept."""
    from pydantic import ValidationError

    from backend.openai_api import service
    from backend.openai_api.models import ApiKeyCreate
    from backend.products.service import require_product_by_slug

    try:
        data = ApiKeyCreate(name=name)
    except ValidationError as exc:
        raise fail(f"--name: {exc.errors()[0]['msg']}") from None
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        slug = target.slug
        created = service.create_api_key(session=session, product_id=target.id or 0, data=data)
    console.print(f"created API key {created.id} '{created.name}' for {slug}:")
    console.print(created.key, soft_wrap=True, highlight=False, markup=False)
    console.print("[yellow]warning:[/] copy the key now; it is not shown again.")


@apikey_app.command("list")
def apikey_list(product: ProductOpt) -> None:
    """List the product's keys (id, name, prefix, created, last used, revoked); never the key."""
    from backend.openai_api import service
    from backend.products.service import require_product_by_slug

    table = Table("id", "name", "prefix", "created", "last used", "revoked")
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        for k in service.list_api_keys(session=session, product_id=target.id or 0):
            table.add_row(
                str(k.id),
                k.name,
                k.prefix,
                _when(k.created_at),
                _when(k.last_used_at),
                _when(k.revoked_at),
            )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    api_key_id: Annotated[int, typer.Argument(metavar="ID", help="The key's id (`apikey list`).")],
) -> None:
    """Revoke a key: requests with it are refused at once. Revoking twice changes nothing."""
    from backend.models import all_tables
    from backend.openai_api import service

    all_tables()  # the key's foreign keys name other tables (product)
    with db_session() as session:
        api_key = service.get_api_key(session=session, api_key_id=api_key_id)
        already = api_key.revoked_at is not None
        service.revoke_api_key(session=session, api_key=api_key)
        label = f"API key {api_key.id} '{api_key.name}' ({api_key.prefix})"
    console.print(f"{label} was already revoked" if already else f"revoked {label}")
