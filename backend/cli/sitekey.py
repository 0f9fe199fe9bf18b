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


@sitekey_app.command("update")
def sitekey_update(
    public_id: Annotated[str, typer.Argument(help="The key's public id (pk_...).")],
    color: Annotated[str | None, typer.Option(help="Accent colour, #RRGGBB.")] = None,
    title: Annotated[
        str | None, typer.Option(help="Panel title ('' for the product's name).")
    ] = None,
    greeting: Annotated[str | None, typer.Option(help="First message of the panel.")] = None,
    position: Annotated[str | None, typer.Option(help="right or left.")] = None,
    avatar_url: Annotated[str | None, typer.Option(help="http(s) image URL ('' for none).")] = None,
    language: Annotated[str | None, typer.Option(help="auto, en or zh-CN.")] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Allowed origin (repeat for more); replaces the current list."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The key's label.")] = None,
    rate_limit: Annotated[
        int | None, typer.Option(help="Messages per visitor per minute (0: no limit).")
    ] = None,
    ip_rate_limit: Annotated[
        int | None, typer.Option(help="Requests per client IP per minute (0: no limit).")
    ] = None,
) -> None:
    """Change a site key's theme, language, origins, name or rate limits (others stay)."""
    from pydantic import ValidationError

    from backend.widget import service
    from backend.widget.models import SiteKeyUpdate

    theme = {
        k: v
        for k, v in {
            "color": color,
            "title": title,
            "greeting": greeting,
            "position": position,
            "avatar_url": avatar_url,
        }.items()
        if v is not None
    }
    body: dict[str, object] = {"theme": theme} if theme else {}
    given = {
        "allowed_origins": origin or None,
        "name": name,
        "language": language,
        "rate_limit_per_minute": rate_limit,
        "ip_rate_limit_per_minute": ip_rate_limit,
    }
    body.update({k: v for k, v in given.items() if v is not None})
    if not body:
        raise fail("nothing to change: give at least one option (see --help)", code=2)
    try:
        data = SiteKeyUpdate.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise fail(f"{_option(first['loc'])}: {message}") from None
    with db_session() as session:
        key = service.find_site_key(session=session, public_id=public_id)
        if key is None:
            raise fail(f"no site key {public_id}")
        key = service.update_site_key(session=session, site_key=key, data=data)
        config = service.widget_config(session=session, site_key=key)
        summary = (
            f"updated {public_id}: colour {config.theme.color}, {config.theme.position}, "
            f"title {config.theme.title!r}, language {key.language}, "
            f"limits {key.rate_limit_per_minute}/min per visitor, "
            f"{key.ip_rate_limit_per_minute}/min per IP, origins {', '.join(key.allowed_origins)}"
        )
    console.print(summary, highlight=False)


_OPTIONS = {
    "allowed_origins": "--origin",
    "rate_limit_per_minute": "--rate-limit",
    "ip_rate_limit_per_minute": "--ip-rate-limit",
    "avatar_url": "--avatar-url",
}


def _option(loc: tuple[int | str, ...]) -> str:
    # ("theme", "color") -> --color; ("allowed_origins", 0) -> --origin
    names = [str(p) for p in loc if isinstance(p, str)]
    if not names:
        return "options"
    return _OPTIONS.get(names[-1], f"--{names[-1].replace('_', '-')}")
