"""The 10 first questions of bench/first_run.py: asked through the widget API, each in a new
conversation, and checked for its route and, for an answer, the FAQ entry it came from."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

WIDGET = "/api/v1/widget/conversations"
ADMIN = ("bench@deskpilot.local", "first-run-bench-password")  # what first_run sets
# routes that answer from the knowledge
ANSWERED = {"answer", "fast_path", "extractive", "llm", "llm_replaced"}
# (question, expected route, the FAQ entry an answer must come from, or intents a fixed reply
# must name)
QUESTIONS: list[tuple[str, str, str | tuple[str, ...] | None]] = [
    ("my card still hasn't arrived, it's been two weeks", "answer", "faq-card-arrival"),
    ("how do I reset my PIN", "answer", "faq-change-pin"),
    ("are there fees for topping up with a credit card", "answer", "faq-card-top-up-fee"),
    ("what is the weather in Paris", "fallback", None),
    ("write me a poem about the sea", "fallback", None),
    ("who won the world cup", "fallback", None),
    ("I want to talk to a human", "handoff", None),
    ("this is ridiculous, I want to make a complaint", "handoff", None),
    ("hi there", "smalltalk", ("greeting",)),
    ("thanks, bye", "smalltalk", ("thanks", "goodbye")),
]


def faq_entries(checkout: Path) -> dict[str, dict[str, Any]]:
    """The demo FAQ entries by id (to recognise which one an answer came from)."""
    lines = (checkout / "data" / "demo" / "faq.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    return {str(e["id"]): e for e in entries}


def knowledge_ready(base: str, timeout_s: float) -> bool:
    """Wait until both demo documents are ingested and a search finds the FAQ (as an admin)."""
    login = {"email": ADMIN[0], "password": ADMIN[1]}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError, StopIteration, ValueError):
            token = httpx.post(f"{base}/api/v1/auth/login", json=login).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            products = httpx.get(f"{base}/api/v1/products", headers=headers).json()
            demo = next(p for p in products if p["slug"] == "demo-bank")
            admin = f"{base}/api/v1/admin/products/{demo['id']}"
            docs = httpx.get(f"{admin}/documents", headers=headers).json()
            if {d["name"] for d in docs} >= {"faq.jsonl", "terms-and-fees.md"}:
                query = {"query": "my card has not arrived"}
                hits = httpx.post(f"{admin}/knowledge/search", json=query, headers=headers)
                if hits.json()["hits"]:
                    return True
        time.sleep(1)
    print(f"  gave up waiting for the demo knowledge after {timeout_s:.0f} s")
    return False


def ask(base: str, faq: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The 10 questions, each in a new widget conversation, checked."""
    page = httpx.get(f"{base}/demo", timeout=10).text
    key = re.search(r"pk_[A-Za-z0-9_-]+", page)
    if key is None:
        raise RuntimeError("no site key on /demo")
    rows = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for text, route, expected in QUESTIONS:
            conv = client.post(WIDGET, json={"site_key": key.group(0)}).json()
            headers = {"X-Deskpilot-Visitor": conv["visitor_token"]}
            r = client.post(
                f"{WIDGET}/{conv['conversation']['id']}/messages",
                params={"stream": "false"},
                json={"text": text},
                headers=headers,
            )
            body = r.json() if r.status_code == 200 else {}
            meta = body.get("meta") or {}
            got = str(meta.get("route"))
            sources = body.get("sources") or []
            entry = source_entry(sources[0], faq) if sources else None
            if route == "answer":
                right = got in ANSWERED and entry == expected
            elif isinstance(expected, tuple):  # the intent, or before a model the rule
                reason = str(meta.get("reason") or "")
                named = meta.get("intent") in expected or any(
                    f"rule {x}" in reason for x in expected
                )
                right = got == route and named
            else:
                right = got == route
            rows.append(
                {
                    "question": text,
                    "expected_route": route,
                    "expected": expected,
                    "route": got,
                    "intent": meta.get("intent"),
                    "confidence": meta.get("confidence"),
                    "reason": meta.get("reason"),
                    "faq_entry": entry,
                    "right": right,
                    "answer": str((body.get("message") or {}).get("text", ""))[:160],
                    "http": r.status_code,
                }
            )
    return rows


def source_entry(source: dict[str, Any], faq: dict[str, dict[str, Any]]) -> str | None:
    """The FAQ entry id a source names (by id, category or question, whichever it carries)."""
    values = {str(v) for v in source.values() if isinstance(v, str | int)}
    values |= {str(v) for v in (source.get("metadata") or {}).values() if isinstance(v, str)}
    for entry_id, entry in faq.items():
        if entry_id in values or entry["category"] in values or entry["question"] in values:
            return entry_id
    return None
