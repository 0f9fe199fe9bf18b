"""The API side of the intent gate: each product's active model, loaded once and swapped when the
database says another version became active (checked at most every ``index_poll_s``).

Given the process's query embedder, a ``frozen_head`` model on the same encoder classifies the
query vector (which the embedder caches for the retrieval that follows) instead of encoding the
message again: one encoder pass per message (:mod:`ml.intent.shared_encoder`)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.core.settings import Settings
from backend.intents.training import active_model
from ml.intent.predictor import IntentPredictor
from ml.intent.shared_encoder import check_sharing
from ml.interfaces import Embedder, IntentPrediction

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    version: str | None = None
    predictor: IntentPredictor | None = None
    checked_at: float = 0.0
    error: str | None = None
    shared: bool = False  # classifies the query embedder's vectors


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
        self._lock = threading.Lock()

    def _refresh(self, product_id: int) -> _Entry:
        entry = self._entries.setdefault(product_id, _Entry())
        if time.monotonic() - entry.checked_at < self.settings.index_poll_s:
            return entry
        with self._lock, Session(self.engine) as session:
            row = active_model(session, product_id)
            version = row.version if row else None
            if version != entry.version:
                if row is None:
                    entry.predictor, entry.version = None, None
                else:
                    try:
                        predictor = IntentPredictor(
                            Path(row.path), threads=self.settings.inference_threads
                        )
                        predictor.warm_up()
                        shared = self._share(predictor)
                        entry.predictor, entry.version, entry.error = predictor, version, None
                        entry.shared = shared
                        log.info("product %s: serving intent model %s", product_id, version)
                    except (OSError, ValueError) as exc:  # keep serving the previous model
                        entry.error = f"cannot load intent model {version}: {exc}"
                        log.error("product %s: %s", product_id, entry.error)
            entry.checked_at = time.monotonic()
        return entry

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

    def preload(self) -> int:
        """Load every product's active model now (app startup), so that the first visitor
        message does not pay for it; returns how many are loaded."""
        from sqlalchemy.exc import SQLAlchemyError
        from sqlmodel import select

        from backend.intents.models import IntentModel

        try:
            with Session(self.engine) as session:
                ids = set(
                    session.exec(
                        select(IntentModel.product_id).where(IntentModel.is_active == True)  # noqa: E712
                    ).all()
                )
        except SQLAlchemyError as exc:  # the database check in /ready reports it
            log.warning("intent models not preloaded: %s", exc)
            return 0
        return sum(self._refresh(int(pid)).predictor is not None for pid in sorted(ids))

    def predict(self, product_id: int, text: str) -> tuple[str | None, IntentPrediction | None]:
        """(model version, prediction); (None, None) while the product has no active model."""
        entry = self._refresh(product_id)
        if entry.predictor is None:
            return None, None
        if entry.shared and self.embedder is not None and text.strip():
            vector = self.embedder.embed([text])[0]
            return entry.version, entry.predictor.predict_embedding(vector, text)
        return entry.version, entry.predictor.predict(text)

    def status(self) -> str:
        """Readiness detail; raises when a model failed to load."""
        errors = [f"product {p}: {e.error}" for p, e in self._entries.items() if e.error]
        if errors:
            raise RuntimeError("; ".join(errors))
        loaded = [p for p, e in self._entries.items() if e.version]
        if not loaded:
            return "no model loaded yet (warming up)"
        shared = sum(self._entries[p].shared for p in loaded)
        second = sum(
            getattr(self._entries[p].predictor, "second", None) is not None for p in loaded
        )
        return (
            f"{len(loaded)} model(s) loaded, {shared} sharing the query encoder, "
            f"{second} with a second opinion"
        )
