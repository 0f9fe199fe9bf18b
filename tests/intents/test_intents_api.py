"""Intents and labelled examples through the admin API (SQLite and PostgreSQL): CRUD, reserved
intents, import (a job, one transaction) with its report, export, and bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.knowledge.conftest import KB

pytestmark = pytest.mark.integration


def _intents(kb: KB) -> dict[str, dict[str, Any]]:
    resp = kb.client.get(kb.url("/intents"), headers=kb.headers)
    assert resp.status_code == 200, resp.text
    return {i["name"]: i for i in resp.json()}


def _import(kb: KB, name: str, data: bytes, **form: str) -> dict[str, Any]:
    resp = kb.client.post(
        kb.url("/intents/import"), files={"file": (name, data)}, data=form, headers=kb.headers
    )
    assert resp.status_code == 202, resp.text
    return kb.run(resp.json())


def test_crud_and_reserved_intents(kb: KB) -> None:
    intents = _intents(kb)
    assert {"human_agent", "complaint", "greeting", "thanks", "goodbye", "out_of_scope"} <= set(
        intents
    )
    assert all(i["reserved"] for i in intents.values())
    created = kb.client.post(kb.url("/intents"), json={"name": "card_arrival"}, headers=kb.headers)
    assert created.status_code == 201
    cid = created.json()["id"]
    assert (
        kb.client.post(
            kb.url("/intents"), json={"name": "card_arrival"}, headers=kb.headers
        ).status_code
        == 409
    )
    assert (
        kb.client.post(
            kb.url("/intents"), json={"name": "has space"}, headers=kb.headers
        ).status_code
        == 422
    )
    hid = intents["human_agent"]["id"]
    assert (
        kb.client.patch(
            kb.url(f"/intents/{hid}"), json={"name": "person"}, headers=kb.headers
        ).status_code
        == 422
    )
    assert kb.client.delete(kb.url(f"/intents/{hid}"), headers=kb.headers).status_code == 422

    ex = kb.client.post(
        kb.url(f"/intents/{cid}/examples"),
        json={"text": "  Where is my   card? "},
        headers=kb.headers,
    )
    assert ex.status_code == 201 and ex.json()["text"] == "Where is my card?"
    dup = kb.client.post(
        kb.url(f"/intents/{hid}/examples"), json={"text": "where is my CARD?"}, headers=kb.headers
    )
    assert dup.status_code == 409 and "card_arrival" in dup.json()["error"]["message"]
    empty = kb.client.post(
        kb.url(f"/intents/{cid}/examples"), json={"text": "   "}, headers=kb.headers
    )
    assert empty.status_code == 422
    listed = kb.client.get(kb.url(f"/intents/{cid}/examples"), headers=kb.headers).json()
    assert [e["text"] for e in listed] == ["Where is my card?"]
    assert _intents(kb)["card_arrival"]["examples"] == 1
    assert (
        kb.client.delete(kb.url(f"/examples/{listed[0]['id']}"), headers=kb.headers).status_code
        == 204
    )
    assert kb.client.delete(kb.url(f"/intents/{cid}"), headers=kb.headers).status_code == 204
    assert "card_arrival" not in _intents(kb)


def test_import_report_and_export_roundtrip(kb: KB) -> None:
    csv_data = (
        b"text,intent\n"
        b"my card never came,card_arrival\n"
        b"My card never came,card_arrival\n"  # duplicate (case)
        b"my card never came,lost_card\n"  # conflicting label
        b",card_arrival\n"  # empty
        b"hi there,greeting\n"
        b"what is the weather,weather\n"
    )
    job = _import(kb, "ex.csv", csv_data)
    assert job["status"] == "succeeded", job
    report = job["result"]
    assert report["rows"] == 6 and report["added"] == 1 and report["empty"] == 1
    assert report["unknown_intents"] == {"card_arrival": 2, "lost_card": 1, "weather": 1}
    job = _import(kb, "ex.csv", csv_data, create_missing="true")
    report = job["result"]
    assert set(report["created_intents"]) == {"card_arrival", "lost_card", "weather"}
    assert report["added"] == 2 and report["duplicates"] == 2 and report["conflicts"] == 1
    assert "already" in report["conflict_samples"][0]

    exported = kb.client.get(kb.url("/intents/export?format=jsonl"), headers=kb.headers)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert {(r["text"], r["intent"]) for r in rows} == {
        ("hi there", "greeting"),
        ("my card never came", "card_arrival"),
        ("what is the weather", "weather"),
    }
    as_csv = kb.client.get(kb.url("/intents/export?format=csv"), headers=kb.headers).text
    assert as_csv.splitlines()[0] == "text,intent" and len(as_csv.splitlines()) == 4
    again = _import(kb, "back.jsonl", exported.content)["result"]
    assert again["duplicates"] == 3 and again["added"] == 0


def test_latin1_and_large_streamed_import(kb: KB) -> None:
    latin = "text,intent\ncafé crème payment failed,declined_card_payment\n".encode("latin-1")
    assert _import(kb, "latin.csv", latin, create_missing="true")["result"]["added"] == 1
    exported = kb.client.get(kb.url("/intents/export?format=csv"), headers=kb.headers).text
    assert "café crème" in exported
    big = "text,intent\n" + "".join(f"example number {i},bulk_{i % 50}\n" for i in range(20000))
    report = _import(kb, "big.csv", big.encode(), create_missing="true")["result"]
    assert report["added"] == 20000 and len(report["created_intents"]) == 50


def test_bad_files(kb: KB) -> None:
    resp = kb.client.post(
        kb.url("/intents/import"), files={"file": ("x.csv", b"foo,bar\n1,2\n")}, headers=kb.headers
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "missing_columns"
    resp = kb.client.post(
        kb.url("/intents/import"), files={"file": ("x.pdf", b"%PDF")}, headers=kb.headers
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "unsupported_type"
    resp = kb.client.post(
        kb.url("/intents/import"), files={"file": ("x.csv", b"")}, headers=kb.headers
    )
    assert resp.status_code == 422
    # A broken line after the first rows: the job fails and nothing of the file is stored.
    lines = [json.dumps({"text": f"t{i}", "intent": "greeting"}) for i in range(10)]
    lines.insert(8, "{not json")
    job = _import(kb, "bad.jsonl", "\n".join(lines).encode())
    assert job["status"] == "failed" and "line 9" in job["error"] and not job["retryable"]
    assert _intents(kb)["greeting"]["examples"] == 0
    assert not list((kb.settings.data_dir / "uploads").glob("*/*"))
