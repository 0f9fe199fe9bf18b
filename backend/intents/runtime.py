"""The API side of the intent gate: each product's active model, loaded once per process and
swapped when the database says another version became active.

In the API a background refresher (:meth:`IntentRuntime.start`, a thread started in the app
lifespan) polls the active versions every ``index_poll_s`` and loads a newly activated one beside
the one serving, then swaps: a visitor's message never pays for loading a model. A version that
fails to load leaves the previous one serving (retried every ``RETRY_FAILED_S``) and readiness
names the error. Without the refresher (scripts, benchmarks), ``predict`` checks and loads
itself, at most every ``index_poll_s``.

Given the process's query embedder, a ``frozen_head`` model on the same encoder classifies the
query vector (which the embedder caches for the retrieval that follows) instead of encoding the
message again: one encoder pass per message (:mod:`ml.intent.shared_encoder`)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from backend.core.settings import Settings
from backend.intents.models import IntentModel
from backend.intents.versions import active_model
from ml.embeddings.model_cache import ModelNotFound
from ml.intent.predictor import IntentPredictor
from ml.intent.shared_encoder import check_sharing
from ml.interfaces import Embedder, IntentPrediction

log = logging.getLogger(__name__)
RETRY_FAILED_S = 60.0  # a version that failed to load is tried again after this long


@dataclass(frozen=True)
class _Active:
    version: str
    path: str


@dataclass(frozen=True)
class _Serving:
    """What serves a product, swapped as one object (a message sees one consistent model)."""

    version: str
    predictor: IntentPredictor
    shared: bool  # classifies the query embedder's vectors


@dataclass
class _Entry:
    serving: _Serving | None = None
    active: str | None = None  # the version the database named active at the last check
    checked_at: float = 0.0
    error: str | None = None  # why ``failed`` did not load
    failed: str | None = None
    failed_at: float = 0.0

    @property
    def version(self) -> str | None:
        """The version serving."""
        return self.serving.version if self.serving else None

    @property
    def stage(self) -> str:
        """Which model serves: none, the fast model alone, or with its second opinion."""
        if self.serving is None:
            return "none"
        return "second_opinion" if self.serving.predictor.second is not None else "fast"


class IntentRuntime:
    """Per-product active intent models for one API process (``app.state.intents``);
    ``embedder`` is the process's (caching) query embedder, to share with frozen-head models."""

    def __init__(
        self, settings: Settings, engine: Engine, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.embedder = embedder
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()  # one load at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- loading ---------------------------------------------------------------------------

    def _load(self, product_id: int, entry: _Entry, row: _Active) -> None:
        """Load ``row`` beside the serving model and swap; on failure keep the serving one."""
        try:
            predictor = IntentPredictor(Path(row.path), threads=self.settings.inference_threads)
            predictor.warm_up()
            shared = self._share(predictor)
        except (OSError, ValueError, KeyError, ModelNotFound) as exc:  # keep the previous one
            # ModelNotFound: its stored encoder is missing and cannot be re-created
            entry.error = f"cannot load intent model {row.version}: {exc}"
            entry.failed, entry.failed_at = row.version, time.monotonic()
            log.error("product %s: %s", product_id, entry.error)
            return
        entry.serving = _Serving(row.version, predictor, shared)
        entry.error, entry.failed = None, None
        stage = entry.stage.replace("_", " ")
        log.info("product %s: serving intent model %s (%s)", product_id, row.version, stage)

    def _share(self, predictor: IntentPredictor) -> bool:
        if self.embedder is None or predictor.frozen_encoder is None:
            return False
        check = check_sharing(predictor, self.embedder)
        log.info(
            "intent model %s: shared query encoder %s (%s)",
            predictor.version,
            "on" if check.shared else "off",
            check.reason,
        )
        return check.shared

    def _apply(self, product_id: int, row: _Active | None) -> _Entry:
        """Bring the product's entry to the active version ``row`` (None: no active model)."""
        entry = self._entries.setdefault(product_id, _Entry())
        entry.active = row.version if row else None
        if row is None:
            entry.serving, entry.error, entry.failed = None, None, None
        elif row.version == entry.version:  # (back to) the one serving: an old failure is moot
            entry.error, entry.failed = None, None
        elif row.version != entry.failed or time.monotonic() - entry.failed_at >= RETRY_FAILED_S:
            self._load(product_id, entry, row)
        entry.checked_at = time.monotonic()
        return entry

    def refresh(self) -> None:
        """Load every newly activated version (and drop deactivated ones) now: what the
        background refresher does every ``index_poll_s``."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(IntentModel.product_id, IntentModel.version, IntentModel.path).where(
                    col(IntentModel.is_active).is_(True)
                )
            ).all()
        active = {int(pid): _Active(version, path) for pid, version, path in rows}
        with self._lock:
            for product_id in sorted(set(active) | set(self._entries)):
                self._apply(product_id, active.get(product_id))

    def preload(self) -> int:
        """Load every product's active model now (app startup), so that the first visitor
        message does not pay for it; returns how many are loaded."""
        try:
            self.refresh()
        except SQLAlchemyError as exc:  # the database check in /ready reports it
            log.warning("intent models not preloaded: %s", exc)
            return 0
        return sum(e.serving is not None for e in self._entries.values())

    # -- the background refresher --------------------------------------------------------

    def start(self) -> None:
        """Start the background refresher (the API lifespan does); from then on ``predict``
        never loads a model itself."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="intent-refresher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the refresher (waits for a load in progress, up to ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.settings.index_poll_s):
            try:
                self.refresh()
            except Exception as exc:  # a database blip: the next poll tries again
                log.warning("intent model refresh failed: %s", exc)

    def _entry_for(self, product_id: int) -> _Entry | None:
        if self._thread is not None:  # the refresher keeps entries current
            return self._entries.get(product_id)
        entry = self._entries.get(product_id)
        if entry is not None and time.monotonic() - entry.checked_at < self.settings.index_poll_s:
            return entry
        with self._lock, Session(self.engine) as session:
            row = active_model(session, product_id)
            return self._apply(product_id, _Active(row.version, row.path) if row else None)

    # -- serving -------------------------------------------------------------------------

    def predict(self, product_id: int, text: str) -> tuple[str | None, IntentPrediction | None]:
        """(model version, prediction); (None, None) while the product has no model loaded."""
        entry = self._entry_for(product_id)
        serving = entry.serving if entry else None
        if serving is None:
            return None, None
        if serving.shared and self.embedder is not None and text.strip():
            vector = self.embedder.embed([text])[0]
            return serving.version, serving.predictor.predict_embedding(vector, text)
        return serving.version, serving.predictor.predict(text)

    def describe(self) -> list[dict[str, Any]]:
        """Per product: the stage serving (``none``, ``fast``, ``second_opinion``), its version,
        the version the database names active, whether that one is loaded, and any load error."""
        return [
            {
                "product_id": product_id,
                "stage": e.stage,
                "version": e.version,
                "active_version": e.active,
                "loaded": e.version is not None and e.version == e.active,
                "shared_encoder": bool(e.serving and e.serving.shared),
                "error": e.error,
            }
            for product_id, e in sorted(self._entries.items())
        ]

    def status(self) -> str:
        """Readiness detail; raises when a product's active model failed to load and no
        previous one serves (a previous one serving is reported, not failed)."""
        broken = [f"product {p}: {e.error}" for p, e in self._entries.items() if e.error]
        if any(e.error and e.serving is None for e in self._entries.values()):
            raise RuntimeError("; ".join(broken))
        serving = [e.serving for e in self._entries.values() if e.serving is not None]
        if not serving:
            return "no model loaded yet (warming up)"
        shared = sum(s.shared for s in serving)
        second = sum(s.predictor.second is not None for s in serving)
        detail = (
            f"{len(serving)} model(s) loaded, {shared} sharing the query encoder, "
            f"{second} with a second opinion"
        )
        return detail + "".join(f"; {b} (the previous version serves)" for b in broken)
