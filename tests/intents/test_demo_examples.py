"""The demo product's intent examples: the hand-written CSV plus every FAQ question and
alternative phrasing, labelled with the entry's intent, loaded once in one commit."""

from __future__ import annotations

import csv
import json

import pytest
from sqlmodel import Session, select

from backend.intents.demo import DEMO_EXAMPLES, DEMO_FAQ, faq_question_rows, load_demo_examples
from backend.intents.importer import text_key
from backend.intents.models import Intent, IntentExample
from tests.factories import make_product


@pytest.mark.unit
def test_faq_questions_become_examples_of_their_intent() -> None:
    entries = [json.loads(line) for line in DEMO_FAQ.read_text(encoding="utf-8").splitlines()]
    rows = list(faq_question_rows())
    assert len(rows) == sum(1 + len(e["alternatives"]) for e in entries)
    first = entries[0]
    assert rows[0][1:] == (first["question"], first["category"])
    assert {intent for _, _, intent in rows} == {e["category"] for e in entries}


@pytest.mark.integration
def test_demo_examples_load_once_with_the_faq_questions(session: Session) -> None:
    product = make_product(session)
    assert product.id is not None
    with DEMO_EXAMPLES.open(encoding="utf-8") as fh:
        written = {(text_key(r["text"]), r["intent"]) for r in csv.DictReader(fh)}
    faq = {(text_key(text), intent) for _, text, intent in faq_question_rows()}
    assert len({key for key, _ in written | faq}) == len(written | faq)  # no label conflicts
    added = load_demo_examples(session=session, product_id=product.id)
    assert added == len(written | faq) > len(written)
    stored = set(
        session.exec(
            select(IntentExample.text_key, Intent.name)
            .join(Intent, Intent.id == IntentExample.intent_id)  # type: ignore[arg-type]
            .where(IntentExample.product_id == product.id)
        )
    )
    assert faq <= stored  # every FAQ phrasing trains the intent its entry answers
    assert load_demo_examples(session=session, product_id=product.id) == 0  # only once
