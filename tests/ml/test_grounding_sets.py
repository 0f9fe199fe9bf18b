"""The hand-written grounding sets (data/grounding): well formed, and, with the real MiniLM
query embedder, every adversarial answer caught and no faithful paraphrase replaced."""

from __future__ import annotations

import difflib
import json
import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ml.generation.claims import split_claims
from ml.generation.grounding_check import ClaimCheck, GroundingChecker, is_instruction, judge

DATA = Path(__file__).resolve().parents[2] / "data"
ADVERSARIAL_KINDS = {
    "negation_flip",
    "invented_fee",
    "changed_amount",
    "invented_deadline",
    "changed_duration",
    "polarity_flip",
    "invented_fact",
    "injection",
}
PARAPHRASE_KINDS = {"reworded", "reordered", "shortened", "with_citation", "with_courtesy"}


def _load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "grounding" / name).read_text().splitlines()]


FAQ = {e["id"]: e for e in map(json.loads, (DATA / "demo" / "faq.jsonl").read_text().splitlines())}
ADVERSARIAL = _load("adversarial.jsonl")
PARAPHRASES = _load("paraphrases.jsonl")


def _passages(item: dict[str, Any]) -> list[str]:
    planted: list[str] = item.get("extra_passages", [])
    return [str(FAQ[i]["answer"]) for i in item["faq_ids"]] + planted


@pytest.mark.unit
def test_sets_are_well_formed() -> None:
    assert len(ADVERSARIAL) >= 34 and len(PARAPHRASES) >= 34
    ids = [i["id"] for i in ADVERSARIAL + PARAPHRASES]
    assert len(ids) == len(set(ids))
    assert set(Counter(i["kind"] for i in ADVERSARIAL)) == ADVERSARIAL_KINDS
    assert set(Counter(i["kind"] for i in PARAPHRASES)) == PARAPHRASE_KINDS
    for item in ADVERSARIAL + PARAPHRASES:
        assert item["faq_ids"] and all(i in FAQ for i in item["faq_ids"]), item["id"]
        assert item["question"].strip() and item["answer"].strip()
    for item in ADVERSARIAL:
        assert item["why"].strip()
        planted = item.get("extra_passages", [])
        assert (item["kind"] == "injection") == bool(planted), item["id"]
        assert all(any(map(is_instruction, split_claims(p))) for p in planted), item["id"]


@pytest.mark.unit
def test_paraphrases_are_rewordings_not_copies() -> None:
    for item in PARAPHRASES:
        source = FAQ[item["faq_ids"][0]]["answer"]
        for sentence in split_claims(item["answer"]):
            assert sentence not in source, (item["id"], sentence)
        ratio = difflib.SequenceMatcher(None, item["answer"], source).ratio()
        assert ratio < 0.9, (item["id"], ratio)


@pytest.fixture(scope="module")
def embed() -> Callable[..., Any]:
    """The product's query embedder (ONNX MiniLM), as the API builds it."""
    from backend.core.settings import load_settings
    from backend.knowledge.indexing import query_embedder_for

    embedder = query_embedder_for(load_settings())
    embedder.warm_up()
    return embedder.embed


def _checks(item: dict[str, Any], embed: Callable[..., Any]) -> list[ClaimCheck]:
    checker = GroundingChecker(_passages(item), embed)
    return [checker.check(s) for s in split_claims(item["answer"])]


@pytest.mark.integration
@pytest.mark.slow
def test_every_adversarial_answer_is_caught_and_no_paraphrase_replaced(
    embed: Callable[..., Any], record_property: Callable[[str, object], None]
) -> None:
    times: list[float] = []
    missed, replaced = [], []
    for item in ADVERSARIAL:
        checks = _checks(item, embed)
        times += [c.ms for c in checks if c.is_claim]
        for share in (0.34, 0.0):
            if judge(checks, max_unsupported_share=share).send:
                missed.append((item["id"], share, [c.trace() for c in checks]))
    for item in PARAPHRASES:
        checks = _checks(item, embed)
        times += [c.ms for c in checks if c.is_claim]
        if not judge(checks, max_unsupported_share=0.0).send:
            replaced.append((item["id"], [c.trace() for c in checks]))
    times.sort()
    p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
    record_property("check_ms_p50_per_sentence", round(p50, 2))
    record_property("check_ms_p95_per_sentence", round(p95, 2))
    print(f"grounding check: {len(times)} sentences, p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    assert missed == [], missed
    assert replaced == [], replaced
