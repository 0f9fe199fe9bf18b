"""`deskpilot sitekey`: create, list and revoke the site keys a website's widget uses."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from backend.cli.common import console, db_session, fail

sitekey_app = typer.Typer(
    help="Site keys: the public id in a website's widget tag and the origins it may use.",
    no_args_is_help=True,
)


@sitekey_app.command("create")
def sitekey_create(
    product: Annotated[str, typer.Option("--product", "-p", help="Product slug, e.g. demo-bank.")],
    origin: Annotated[
        list[str],
        typer.Option(
            help="Allowed origin such as https://shop.example.com (repeat for more; "
            "'*' allows any site)."
        ),
    ],
    name: Annotated[str, typer.Option(help="A label for the key, e.g. the site's name.")] = (
        "website"
    ),
) -> None:
    """Create a site key for PRODUCT that works from the given origins; prints its public id."""
    from pydantic import ValidationError

    from backend.products.service import require_product_by_slug
    from backend.widget import service
    from backend.widget.models import SiteKeyCreate

    try:
        data = SiteKeyCreate(name=name, allowed_origins=origin)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        field = "--origin" if first["loc"][0] == "allowed_origins" else f"--{first['loc'][0]}"
        raise fail(f"{field}: {message}") from None
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        key = service.create_site_key(session=session, product_id=target.id or 0, data=data)
        public_id, origins = key.public_id, ", ".join(key.allowed_origins)
    console.print(f"created site key {public_id} for {product} (origins: {origins})")


@sitekey_app.command("list")
def sitekey_list(
    product: Annotated[str, typer.Option("--product", "-p", help="Product slug, e.g. demo-bank.")],
) -> None:
    """List the product's site keys, revoked ones included."""
    from backend.products.service import require_product_by_slug
    from backend.widget import service

    table = Table("id")
    table.add_column("public id", no_wrap=True, min_width=27)  # copied into the widget tag
    table.add_column("name", overflow="fold")
    table.add_column("origins", overflow="fold")
    table.add_column("active")
    table.add_column("created", no_wrap=True)
    with db_session() as session:
        target = require_product_by_slug(session=session, slug=product)
        for key in service.list_site_keys(session=session, product_id=target.id or 0):
            table.add_row(
                str(key.id),
                key.public_id,
                key.name,
                ", ".join(key.allowed_origins),
                "yes" if key.is_active else "revoked",
                key.created_at.strftime("%Y-%m-%d"),
            )
    console.print(table)


@sitekey_app.command("revoke")
def sitekey_revoke(
    public_id: Annotated[str, typer.Argument(help="The key's public id (pk_...).")],
) -> None:
    """Revoke a site key: its widget and every visitor token issued for it stop working."""
    from backend.widget import service

    with db_session() as session:
        key = service.find_site_key(session=session, public_id=public_id)
        if key is None:
            raise fail(f"no site key {public_id}")
        was_active = key.is_active
        service.revoke_site_key(session=session, site_key=key)
    console.print(f"revoked {public_id}" if was_active else f"{public_id} was already revoked")
