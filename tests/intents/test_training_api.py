"""Training the intent model through the admin API (a job run by the real runner), activation,
the gate's prediction endpoint, and the refusal of untrainable data."""

from __future__ import annotations

import pytest

from tests.knowledge.conftest import KB
from tests.procs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = {
    "card_arrival": [
        "my card has not arrived",
        "where is my new card",
        "card still not delivered",
        "waiting for my card for two weeks",
        "new card never came in the post",
        "has my card been sent yet",
        "when does my card get here",
        "card delivery is late",
    ],
    "change_pin": [
        "how do i change my pin",
        "i want a new pin",
        "set a different pin code",
        "update my card pin",
        "can i reset my pin at an atm",
        "pin change please",
        "change the pin on my debit card",
        "new pin number",
    ],
    "greeting": [
        "hello",
        "hi there",
        "good morning",
        "hey",
        "hi anyone there?",
        "good evening",
        "hello bot",
        "hey there",
    ],
}


def test_train_activate_predict(kb: KB) -> None:
    lines = ["text,intent"] + [f"{t},{i}" for i, texts in EXAMPLES.items() for t in texts]
    job = kb.client.post(
        kb.url("/intents/import"),
        files={"file": ("ex.csv", "\n".join(lines).encode())},
        data={"create_missing": "true"},
        headers=kb.headers,
    )
    imported = kb.run(job.json())
    assert imported["status"] == "succeeded", imported["error"]
    # No model yet: the gate says it is warming up.
    warm = kb.client.post(kb.url("/intents/predict"), json={"text": "hi"}, headers=kb.headers)
    assert warm.status_code == 503 and warm.json()["error"]["code"] == "warming_up"
    ready = kb.client.get("/api/v1/ready").json()["checks"]["intent_model"]
    assert ready["ok"] and "warming up" in ready["detail"]

    resp = kb.client.post(kb.url("/intents/train?max_epochs=6"), headers=kb.headers)
    assert resp.status_code == 202, resp.text
    job = kb.run(resp.json())
    assert job["status"] == "succeeded", job
    first = job["result"]["version"]
    assert job["result"]["active"] is True and job["progress"] == 100
    assert job["result"]["pruned"] == []  # the worker prunes after training: nothing old yet

    # the API's background refresher loads it, without any request paying for it
    wait_for(
        lambda: any(
            e["version"] == first and e["loaded"]
            for e in kb.client.get("/api/v1/ready").json()["intent"]
        ),
        60,
        "the API to load the new model",
    )
    pred = kb.client.post(
        kb.url("/intents/predict"), json={"text": "my card hasn't shown up yet"}, headers=kb.headers
    )
    assert pred.status_code == 200, pred.text
    body = pred.json()
    assert body["intent"] == "card_arrival" and body["model_version"] == first
    assert 0 < body["confidence"] <= 1 and len(body["top_k"]) == 3
    # a frozen-head model on the query embedder's encoder classifies the query vector, which
    # the embedder caches for the retrieval that follows: one encoder pass per message
    ready = kb.client.get("/api/v1/ready").json()["checks"]["intent_model"]
    assert "1 sharing the query encoder" in ready["detail"], ready
    cache = kb.client.app.state.knowledge.embedder  # type: ignore[attr-defined]
    hits = cache.hits
    cache.embed(["my card hasn't shown up yet"])  # embedded by the prediction above
    assert cache.hits == hits + 1
    for odd in ["", "🙂", "x" * 20000]:
        assert (
            kb.client.post(
                kb.url("/intents/predict"), json={"text": odd}, headers=kb.headers
            ).status_code
            == 200
        )

    models = kb.client.get(kb.url("/intent-models"), headers=kb.headers).json()
    assert [m["version"] for m in models] == [first] and models[0]["is_active"]
    assert {"val_accuracy", "ece_after"} <= set(models[0]["metrics"])
    assert models[0]["metrics"]["val_size"] > 0

    report = kb.client.get(kb.url(f"/intent-models/{first}/report"), headers=kb.headers)
    assert report.status_code == 200, report.text
    body = report.json()
    assert {"accuracy", "macro_f1", "per_intent", "confusions", "ece", "out_of_scope"} <= set(body)
    png = kb.client.get(kb.url(f"/intent-models/{first}/reliability.png"), headers=kb.headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:4] == b"\x89PNG"
    assert (
        kb.client.get(kb.url("/intent-models/nope/report"), headers=kb.headers).status_code == 404
    )
    bad = kb.client.post(kb.url("/intents/train?strategy=magic"), headers=kb.headers)
    assert bad.status_code == 422

    missing = kb.client.post(kb.url("/intent-models/nope/activate"), headers=kb.headers)
    assert missing.status_code == 404
    again = kb.client.post(kb.url(f"/intent-models/{first}/activate"), headers=kb.headers)
    assert again.status_code == 200 and again.json()["is_active"]


def test_untrainable_data_is_refused(kb: KB) -> None:
    resp = kb.client.post(kb.url("/intents/train"), headers=kb.headers)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "untrainable_data"
    job = kb.client.post(
        kb.url("/intents/import"),
        files={"file": ("one.csv", b"text,intent\nhello,greeting\nhi,greeting\n")},
        headers=kb.headers,
    )
    kb.run(job.json())
    resp = kb.client.post(kb.url("/intents/train"), headers=kb.headers)
    assert resp.status_code == 422 and "intent" in resp.json()["error"]["message"]
