"""The chat benchmark's world: its own SQLite database, products, trained intent models and site
keys under ``var/bench/chat/``, and the real processes it measures (the API, a vLLM server).

Everything here is reused between runs: a product whose intent model is active is taken as set
up (``--fresh`` in ``bench/chat.py`` deletes the folder and starts again).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, col, select  # noqa: E402

from backend.cli import vllm_proc  # noqa: E402
from backend.core.db import make_engine  # noqa: E402
from backend.core.migrate import upgrade  # noqa: E402
from backend.core.settings import Settings  # noqa: E402
from backend.intents.demo import load_demo_examples  # noqa: E402
from backend.intents.importer import import_examples  # noqa: E402
from backend.intents.models import IntentExample  # noqa: E402
from backend.intents.training import train_product_model  # noqa: E402
from backend.intents.versions import active_model  # noqa: E402
from backend.knowledge.demo import DEMO_DIR, DEMO_FILES  # noqa: E402
from backend.knowledge.ingest import ingest_file  # noqa: E402
from backend.knowledge.models import KnowledgeChunk  # noqa: E402
from backend.models import all_tables  # noqa: E402
from backend.products import service as products  # noqa: E402
from backend.products.models import ProductCreate  # noqa: E402
from backend.users import service as users  # noqa: E402
from backend.users.models import UserCreate  # noqa: E402
from backend.widget import service as widget  # noqa: E402
from backend.widget.models import SiteKey, SiteKeyCreate  # noqa: E402

WORLD = ROOT / "var" / "bench" / "chat"
OWNER_EMAIL = "bench-owner@deskpilot.local"
OWNER_PASSWORD = "bench-owner-password-not-secret"
ORIGIN = "https://bench.deskpilot.local"
# variant name -> (product slug, product name, also train on BANKING77 train.csv)
VARIANTS = {
    "demo": ("demo-bank", "Lumen Bank", False),
    "with_banking77_train": ("banking77-train", "Lumen Bank", True),
}
BENCH_RATE_LIMIT = 100_000  # per minute, the most a site key allows
DEAD_LLM = "http://127.0.0.1:9/v1"  # nothing listens there: the API sees the generator down
VLLM_SCRIPTS = ROOT / "infra" / "vllm"


@dataclass
class Product:
    """One benchmark product: ids, its public site key and its FAQ entries by category."""

    variant: str
    id: int
    slug: str
    name: str
    site_key: str
    intent_model: str
    chunk_category: dict[str, str] = field(default_factory=dict)  # chunk id -> FAQ category

    @property
    def faq_chunk(self) -> dict[str, str]:
        """FAQ category -> its chunk id (the entry that answers that intent)."""
        return {cat: chunk for chunk, cat in self.chunk_category.items()}


def bench_settings(world: Path) -> Settings:
    """Settings of the bench world (its own SQLite file; nothing shared with ``var/``)."""
    db = (world / "deskpilot.sqlite3").resolve()
    return Settings(
        data_dir=world.resolve(), database_url=f"sqlite:///{db}", broker_url="memory://"
    )


def _log(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


def _ensure_product(session: Session, settings: Settings, variant: str, train_csv: Path) -> Product:
    slug, name, with_train = VARIANTS[variant]
    product = products.get_product_by_slug(session=session, slug=slug)
    if product is None:
        product = products.create_product(session=session, data=ProductCreate(slug=slug, name=name))
    pid = product.id or 0
    for fname in DEMO_FILES:  # every run: a changed demo file replaces the stored one
        started = time.perf_counter()
        r = ingest_file(
            session=session, settings=settings, product_id=pid, path=DEMO_DIR / fname, name=fname
        )
        if not r.unchanged:
            _log(f"{slug}: {fname}: {r.chunk_count} chunks ({time.perf_counter() - started:.0f} s)")
    model = active_model(session, pid)
    if model is None:
        added = load_demo_examples(session=session, product_id=pid)
        _log(f"{slug}: {added} demo intent examples")
        has_b77 = session.exec(
            select(IntentExample.id).where(
                IntentExample.product_id == pid, IntentExample.source == "banking77"
            )
        ).first()
        if with_train and has_b77 is None:
            if not train_csv.exists():
                sys.exit(
                    f"error: {train_csv} not found; pass --data pointing at the BANKING77 folder"
                )
            report = import_examples(
                session=session,
                product_id=pid,
                path=train_csv,
                fmt="csv",
                create_missing=True,
                source="banking77",
            )
            _log(
                f"{slug}: BANKING77 train: {report.added} added, {report.duplicates} duplicates, "
                f"{report.conflicts} conflicts, unknown intents {report.unknown_intents or 'none'}"
            )
        started = time.perf_counter()
        _log(f"{slug}: training the intent model (frozen_head) ...")
        model = train_product_model(
            session=session,
            settings=settings,
            product_id=pid,
            strategy="frozen_head",
            activate=True,
        )
        _log(
            f"{slug}: model {model.version}: {model.n_examples} examples, {model.n_intents} "
            f"intents, {time.perf_counter() - started:.0f} s"
        )
    key = session.exec(
        select(SiteKey).where(SiteKey.product_id == pid, col(SiteKey.is_active).is_(True))
    ).first()
    if key is None:
        key = widget.create_site_key(
            session=session,
            product_id=pid,
            data=SiteKeyCreate(name="bench", allowed_origins=["*"]),
        )
    # One client IP sends everything, visitors send 30 messages a minute under load: raise the
    # key's rate limits (where this version has them) far above that; the limiter still runs.
    for name in ("rate_limit_per_minute", "ip_rate_limit_per_minute"):
        if getattr(key, name, BENCH_RATE_LIMIT) != BENCH_RATE_LIMIT:
            setattr(key, name, BENCH_RATE_LIMIT)
            session.add(key)
    session.commit()
    rows = session.exec(
        select(KnowledgeChunk.id, KnowledgeChunk.category).where(
            KnowledgeChunk.product_id == pid, KnowledgeChunk.kind == "faq"
        )
    ).all()
    return Product(
        variant=variant,
        id=pid,
        slug=slug,
        name=product.name,
        site_key=key.public_id,
        intent_model=model.version,
        chunk_category={cid: cat for cid, cat in rows if cat},
    )


def ensure_world(
    world: Path, data: Path, variants: list[str], *, fresh: bool = False
) -> tuple[Settings, dict[str, Product]]:
    """Create (or reuse) the bench database, owner, products, models and site keys."""
    if fresh and world.exists():
        shutil.rmtree(world)
    world.mkdir(parents=True, exist_ok=True)
    (world / "logs").mkdir(exist_ok=True)
    settings = bench_settings(world)
    all_tables()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    out: dict[str, Product] = {}
    try:
        with Session(engine) as session:
            if users.get_user_by_email(session=session, email=OWNER_EMAIL) is None:
                users.create_user(
                    session=session,
                    data=UserCreate(email=OWNER_EMAIL, password=OWNER_PASSWORD, is_owner=True),
                )
            for variant in variants:
                out[variant] = _ensure_product(session, settings, variant, data / "train.csv")
    finally:
        engine.dispose()
    return settings, out


def read_traces(settings: Settings, message_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The stored traces of bot messages, by message id (read straight from the bench database)."""
    from backend.conversations.models import Message

    engine = make_engine(settings.sqlalchemy_url)
    found: dict[int, dict[str, Any]] = {}
    try:
        with Session(engine) as session:
            for i in range(0, len(message_ids), 500):
                batch = message_ids[i : i + 500]
                for m in session.exec(select(Message).where(col(Message.id).in_(batch))):
                    found[m.id or 0] = dict(m.trace)
    finally:
        engine.dispose()
    return found


class PromptPreview:
    """The prompt the API will send to the generator for a new conversation's question, made in
    this process by the product's own code on the same data (intent model, index, settings), so
    a timed request straight to vLLM can go before deskpilot's. The LLM phase checks it against
    the prompt stored in the trace (``prompt_match``)."""

    def __init__(self, settings: Settings) -> None:
        from backend.intents.runtime import IntentRuntime
        from backend.knowledge.runtime import KnowledgeRuntime

        self.engine = make_engine(settings.sqlalchemy_url)
        self.knowledge = KnowledgeRuntime(settings, self.engine)
        self.knowledge.warm_up()
        self.intents = IntentRuntime(settings, self.engine, self.knowledge.embedder)

    def messages(
        self, product: Product, config: dict[str, Any], text: str
    ) -> list[dict[str, str]] | None:
        """The chat messages, or None when the API would not ask the LLM (policy, fast path)."""
        from backend.answers import grounding
        from backend.answers.gate import policy_decision
        from backend.answers.models import AssistantSettingsBase
        from backend.answers.policy import Route
        from backend.conversations.models import ConversationStatus
        from backend.conversations.service import clean_text
        from ml.generation.prompt import Passage, build_prompt

        cfg = AssistantSettingsBase.model_validate(config)
        question = clean_text(text)
        _, pred = self.intents.predict(product.id, question)
        bot = ConversationStatus.bot
        route = policy_decision(cfg, bot, pred).route
        if route not in (Route.answer, Route.fallback):
            return None
        found = grounding.retrieve(
            self.knowledge,
            product_id=product.id,
            query=question,
            prediction=pred,
            min_confidence=cfg.min_confidence,
        )
        if route == Route.fallback and found.confirmed:
            route = policy_decision(cfg, bot, pred, confirmed=True).route
        if route != Route.answer:
            return None
        if not found.hits or grounding.fast_path_hit(found, pred, cfg) is not None:
            return None
        passages = [
            Passage(i, h.chunk.id, h.chunk.title, h.chunk.text, h.chunk.metadata.get("url"))
            for i, h in enumerate(found.hits, 1)
        ]
        prompt = build_prompt(
            question=question,
            passages=passages,
            history=[],
            product_name=product.name,
            persona=cfg.persona or None,
            token_budget=cfg.prompt_token_budget,
        )
        return [{"role": m.role, "content": m.content} for m in prompt.messages]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}; log {log}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not healthy after {timeout_s:.0f} s ({url}); log {log}")


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own process group (one kill stops it all), output to ``log``."""
    with log.open("ab") as fh:
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left."""
    vllm_proc.stop(proc, grace_s)


@contextlib.contextmanager
def api_server(
    settings: Settings, llm_url: str | None, log_name: str, llm_model: str | None = None
) -> Iterator[str]:
    """Run ``deskpilot serve`` on a free port against the bench world; yields its base URL.

    ``llm_url`` is the generator's root URL (``/v1`` is appended); None points the API at a port
    where nothing listens, so it answers without the LLM (fast path and extractive fallback).
    """
    port = free_port()
    env = {
        **os.environ,
        "DESKPILOT_DATA_DIR": str(settings.data_dir),
        "DESKPILOT_DATABASE_URL": settings.sqlalchemy_url,
        "DESKPILOT_BROKER_URL": "memory://",
        "DESKPILOT_LLM_BASE_URL": f"{llm_url.rstrip('/')}/v1" if llm_url else DEAD_LLM,
        "DESKPILOT_LLM_HEALTH_INTERVAL_S": "1",
        "DESKPILOT_LOG_LEVEL": "WARNING",  # no access log: it would cost CPU under load
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    if llm_model:
        env["DESKPILOT_LLM_MODEL"] = llm_model
    log = settings.data_dir / "logs" / f"api-{log_name}.log"
    proc = _spawn(
        [sys.executable, "-m", "backend.cli.main", "serve", "--port", str(port)], env, log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        _wait(f"{base}/api/v1/health", proc, 180, "the API", log)
        _log(f"API up at {base} in {time.perf_counter() - started:.0f} s (log {log})")
        yield base
    finally:
        _stop(proc)


def served_model(url: str) -> str:
    """The model name an OpenAI-compatible server serves (its first ``/v1/models`` entry)."""
    data = httpx.get(f"{url.rstrip('/')}/v1/models", timeout=5).json()
    return str(data["data"][0]["id"])


@contextlib.contextmanager
def vllm_server(world: Path, url: str | None) -> Iterator[str]:
    """Yield a vLLM root URL: ``url`` as given (an existing server, left running), or a server of
    our own started with ``infra/vllm/serve.sh`` on a free port and stopped afterwards."""
    if url:
        httpx.get(f"{url.rstrip('/')}/health", timeout=5).raise_for_status()
        yield url.rstrip("/")
        return
    port = free_port()
    log = world / "logs" / "vllm.log"
    # dev mode: the /reset_prefix_cache endpoint, so each timed request finds a cold cache
    env = {**os.environ, "DESKPILOT_VLLM_PORT": str(port), "VLLM_SERVER_DEV_MODE": "1"}
    proc = _spawn(["bash", str(VLLM_SCRIPTS / "serve.sh")], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        _log(f"starting vLLM on port {port} (log {log}) ...")
        _wait(f"{base}/health", proc, 400, "vLLM", log)
        _wait(f"{base}/v1/models", proc, 60, "vLLM", log)
        _log(f"vLLM up in {time.perf_counter() - started:.0f} s")
        yield base
    finally:
        _stop(proc)


def login(base: str) -> str:
    """A bearer token for the bench owner."""
    r = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD},
        timeout=30,
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def put_assistant(base: str, token: str, product_id: int, **values: Any) -> dict[str, Any]:
    """Change the product's answer settings through the admin API; returns them all."""
    r = httpx.put(
        f"{base}/api/v1/admin/products/{product_id}/assistant",
        json=values,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    r.raise_for_status()
    return dict(r.json())


# --- data: queries and records ---------------------------------------------------------------


def load_queries(
    data: Path, *, dev: bool, dev_size: int, seed: int, limit: int | None
) -> list[tuple[str, str]]:
    """BANKING77 test.csv, or the dev set: a fixed-seed sample of train.csv (none of which is
    in the demo intent examples, our own writing); ``limit`` samples evenly."""
    path = data / ("train.csv" if dev else "test.csv")
    if not path.exists():
        sys.exit(f"error: {path} not found; pass --data pointing at the BANKING77 folder")
    with path.open(encoding="utf-8") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    if dev:
        rows = random.Random(seed).sample(rows, min(dev_size, len(rows)))
    if limit and limit < len(rows):
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    return rows


def records_path(kind: str, variant: str, dev: bool) -> Path:
    """Per-query records of a phase, e.g. var/bench/chat/routing-demo.jsonl (``-dev``)."""
    return WORLD / f"{kind}-{variant}{'-dev' if dev else ''}.jsonl"


def write_records(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"records: {path.relative_to(ROOT)}")


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def machine() -> str:
    """CPU count and model, OS: where the figures were measured."""
    cpu = platform.processor()
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [
            x.split(":", 1)[1].strip() for x in info.read_text().splitlines() if "model name" in x
        ]
        cpu = names[0] if names else cpu
    return f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()} {platform.release()}"
