"""`deskpilot`: run the API, the worker and beat; migrate; manage users and products.

Later issues add their groups here (kb, intent, ...). Every command prints one clear line and a
non-zero exit code on bad input or bad settings.
"""

from __future__ import annotations

import copy
import logging
import os
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError

from backend.cli.apikey import apikey_app
from backend.cli.common import console, db_session, fail, settings_or_exit
from backend.cli.intent import intent_app
from backend.cli.kb import kb_app
from backend.cli.sitekey import sitekey_app
from backend.cli.up import up_command

app = typer.Typer(
    help="deskpilot: self-hostable AI customer-service desk. `deskpilot up` runs it all locally.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
user_app = typer.Typer(help="Create, list and disable users.", no_args_is_help=True)
product_app = typer.Typer(help="Create and list products.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(product_app, name="product")
app.add_typer(kb_app, name="kb")
app.add_typer(intent_app, name="intent")
app.add_typer(sitekey_app, name="sitekey")
app.add_typer(apikey_app, name="apikey")
app.command("up")(up_command)


def single_threaded_blas() -> None:
    """Keep numpy's BLAS to one thread in the API process (an explicit OPENBLAS_NUM_THREADS
    wins). The API multiplies small matrices (the intent head, its example memory) on many
    request threads at once; BLAS threads of its own only contend with those and with ONNX
    Runtime: at 10 messages/s on 2 cores the classify stage's p95 was 142 ms with them, 25 ms
    without."""
    if "OPENBLAS_NUM_THREADS" in os.environ:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # for the reloader's worker process
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


PROBES = ("/api/v1/health", "/api/v1/ready")


def _not_a_probe(record: logging.LogRecord) -> bool:
    """False for a successful liveness/readiness probe's access-log line."""
    args = record.args if isinstance(record.args, tuple) else ()
    return not (len(args) >= 5 and args[2] in PROBES and args[4] == 200)


def quiet_logging(level: str) -> dict[str, Any]:
    """Keep routine chatter out of the console and return uvicorn's logging configuration:
    the generator health probe (every 5 s, through httpx) and every outgoing request would
    log a line each at INFO, and so would every successful /health and /ready probe (`up`
    polls /ready for its progress lines, as orchestrators do). Warnings and failed probes
    still show; at DEBUG everything does."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    if level != "DEBUG":
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config.setdefault("filters", {})["probes"] = {"()": lambda: _not_a_probe}
        config["loggers"]["uvicorn.access"]["filters"] = ["probes"]
    return config


QUIET_HELP = "No banner, warnings only (unless DESKPILOT_LOG_LEVEL=DEBUG): what `up` runs."


def _quiet_args(quiet: bool) -> list[str]:
    return ["--quiet"] if quiet else []


def _celery_level(level: str, quiet: bool) -> str:
    # `up` prints one line per job itself; Celery's per-task lines would only repeat them
    return "WARNING" if quiet and level == "INFO" else level


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: DESKPILOT_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: DESKPILOT_PORT]")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Run the HTTP API (uvicorn). Migrate first with `deskpilot db upgrade`."""
    import uvicorn

    s = settings_or_exit()
    single_threaded_blas()
    log_config = quiet_logging(s.log_level)
    uvicorn.run(
        "backend.main:create_app",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        reload=reload,
        log_level=s.log_level.lower(),
        log_config=log_config,
        proxy_headers=True,
        # Open event streams (SSE) never finish on their own: on shutdown, cut them after a few
        # seconds (clients reconnect elsewhere with Last-Event-ID) instead of waiting forever.
        timeout_graceful_shutdown=8,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Worker processes [default: DESKPILOT_WORKER_CONCURRENCY]")
    ] = None,
    beat: Annotated[
        bool, typer.Option(help="Also run the periodic scheduler in this process.")
    ] = False,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, solo or threads.")] = "prefork",
    quiet: Annotated[bool, typer.Option(help=QUIET_HELP)] = False,
) -> None:
    """Run a Celery worker for ingestion, indexing, training and export jobs."""
    from backend.worker.celery_app import celery_app

    s = settings_or_exit()
    s.data_dir.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule file there
    argv = [
        *_quiet_args(quiet),
        "worker",
        "-Q",
        s.celery_queue,
        "-c",
        str(concurrency or s.worker_concurrency),
        "--pool",
        pool,
        "--loglevel",
        _celery_level(s.log_level, quiet),
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        argv.append("--beat")
    celery_app.worker_main(argv)


@app.command("beat")
def beat_command(quiet: Annotated[bool, typer.Option(help=QUIET_HELP)] = False) -> None:
    """Run Celery beat: the periodic jobs (the stale-job reaper, scheduled retraining...)."""
    from backend.core.broker import celery_app  # beat only schedules: no tasks, no handlers

    s = settings_or_exit()
    s.data_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start([*_quiet_args(quiet), "beat", "--loglevel", _celery_level(s.log_level, quiet)])


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from backend.core import migrate

    s = settings_or_exit()
    try:
        migrate.upgrade(s.sqlalchemy_url, revision)
    except OperationalError as exc:
        raise fail(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}") from None
    console.print(f"database at revision {migrate.current_revision(s.sqlalchemy_url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Revert migrations down to REVISION (`base` drops every table: data is lost)."""
    from backend.core import migrate

    s = settings_or_exit()
    migrate.downgrade(s.sqlalchemy_url, revision)
    console.print(f"database at revision {migrate.current_revision(s.sqlalchemy_url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one this code ships."""
    from backend.core import migrate

    s = settings_or_exit()
    console.print(
        f"current: {migrate.current_revision(s.sqlalchemy_url)}  head: {migrate.head_revision()}"
    )


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="Login email.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="DESKPILOT_NEW_USER_PASSWORD",
            help="At least 8 characters.",
        ),
    ],
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    owner: Annotated[bool, typer.Option(help="Owner: manages every product and user.")] = False,
    product: Annotated[str | None, typer.Option(help="Product slug to add the user to.")] = None,
    role: Annotated[str, typer.Option(help="Role in --product: admin or agent.")] = "agent",
) -> None:
    """Create a user, optionally adding them to a product with a role."""
    from pydantic import ValidationError

    from backend.products import service as products
    from backend.users import service as users
    from backend.users.models import Role, UserCreate

    try:
        data = UserCreate(email=email, password=password, full_name=name, is_owner=owner)
        role_value = Role(role)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"{first['loc'][0]}: {first['msg']}") from None
    except ValueError:
        raise fail(f"--role must be admin or agent, not '{role}'") from None
    with db_session() as session:
        target = (
            products.require_product_by_slug(session=session, slug=product) if product else None
        )
        user = users.create_user(session=session, data=data)
        created = f"created user {user.email} (id {user.id})"
        if target is not None:
            products.set_membership(
                session=session, user=user, product_id=target.id or 0, role=role_value
            )
    console.print(created)


@user_app.command("list")
def user_list() -> None:
    """List users with their products and roles."""
    from backend.products import service as products
    from backend.users import service as users

    table = Table("id", "email", "owner", "active", "products")
    with db_session() as session:
        for u in users.list_users(session=session):
            roles = ", ".join(
                f"{m.product_slug}:{m.role.value}"
                for m in products.memberships_of(session=session, user=u)
            )
            table.add_row(
                str(u.id),
                u.email,
                "yes" if u.is_owner else "",
                "yes" if u.is_active else "no",
                roles,
            )
    console.print(table)


@user_app.command("disable")
def user_disable(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Disable a user: their tokens stop working at once."""
    from backend.users import service as users
    from backend.users.models import UserUpdate

    with db_session() as session:
        user = users.get_user_by_email(session=session, email=email)
        if user is None:
            raise fail(f"no user with email {email}")
        users.update_user(session=session, user=user, data=UserUpdate(is_active=False))
    console.print(f"disabled {email}")


@product_app.command("create")
def product_create(
    slug: Annotated[str, typer.Argument(help="Short name: lowercase letters, digits, hyphens.")],
    name: Annotated[str | None, typer.Option(help="Display name [default: SLUG].")] = None,
) -> None:
    """Create a product (a knowledge base, a widget and an intent model of its own)."""
    from pydantic import ValidationError

    from backend.products import service as products
    from backend.products.models import ProductCreate

    try:
        data = ProductCreate(slug=slug, name=name or slug)
    except ValidationError:
        raise fail(
            f"invalid slug '{slug}': use 2-63 lowercase letters, digits and hyphens"
        ) from None
    with db_session() as session:
        product = products.create_product(session=session, data=data)
    console.print(f"created product {product.slug} (id {product.id})")


@product_app.command("list")
def product_list() -> None:
    """List products."""
    from sqlmodel import select

    from backend.products.models import Product

    table = Table("id", "slug", "name", "created")
    with db_session() as session:
        for p in session.exec(select(Product).order_by(Product.id)).all():  # type: ignore[arg-type]
            table.add_row(str(p.id), p.slug, p.name, p.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
