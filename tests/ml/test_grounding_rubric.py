"""The published rubric of the grounding bench (bench/grounding_rubric.py and its JSON) on fixed
inputs: every FAQ entry is judged right for its own intent and wrong for almost every other one,
negation flips, invented numbers and single values for ranges are wrong, paraphrases are right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.grounding_rubric import (
    Quantity,
    judge_answer,
    load_rubric,
    normalise,
    quantities,
)

pytestmark = pytest.mark.unit
FAQ = Path(__file__).resolve().parents[2] / "data" / "demo" / "faq.jsonl"
ENTRIES = [json.loads(line) for line in FAQ.read_text(encoding="utf-8").splitlines() if line]
RUBRIC = load_rubric()


def spans(text: str) -> list[tuple[str, str, float, float]]:
    return [(q.kind, q.unit, q.low, q.high) for q in quantities(normalise(text))]


def test_the_rubric_covers_every_faq_entry_once() -> None:
    assert len(ENTRIES) == 77
    assert {e["category"]: e["id"] for e in ENTRIES} == {
        intent: rec.faq_id for intent, rec in RUBRIC.intents.items()
    }
    for rec in RUBRIC.intents.values():
        assert 3 <= len(rec.key_facts) <= 7 and rec.contradictions, rec.intent


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["category"] for e in ENTRIES])
def test_each_entry_is_correct_for_its_intent_and_states_exactly_the_rubric_numbers(
    entry: dict[str, str],
) -> None:
    judgement = judge_answer(entry["answer"], entry["category"], RUBRIC)
    assert judgement.correct, judgement
    rec = RUBRIC.intents[entry["category"]]
    # every key fact is carried by the entry itself, every rubric number is stated by it
    assert len(judgement.matched_facts) == len(rec.key_facts)
    own = {(q.kind, q.unit, q.low, q.high) for q in quantities(normalise(entry["answer"]))}
    assert {(q.kind, q.unit, q.low, q.high) for q in rec.numbers} == own


def test_an_entry_is_wrong_for_almost_every_other_intent() -> None:
    pairs = [(e, intent) for e in ENTRIES for intent in RUBRIC.intents if intent != e["category"]]
    correct = [
        (e["category"], intent)
        for e, intent in pairs
        if judge_answer(e["answer"], intent, RUBRIC).correct
    ]
    assert len(pairs) == 77 * 76
    assert len(correct) <= 10  # 5 of 5,852 when written
    # entries that state the same facts: delivery times, exchange-rate advice
    assert ("card_delivery_estimate", "order_physical_card") in correct
    assert ("card_arrival", "request_refund") not in correct


@pytest.mark.parametrize(
    ("intent", "answer", "reason"),
    [
        ("card_payment_not_recognised", "No, you can't get a refund for that payment.",
         "contradiction:can't get a refund"),
        ("request_refund", "The answer to your question is no. You cannot get a refund.",
         "contradiction:cannot get a refund"),
        ("card_arrival", "Your card should arrive within 5 days.", "number:5 days"),
        ("card_arrival", "Unfortunately you can't track your card.", "contradiction:can't track"),
        ("exchange_charge", "There is a 2% fee on every exchange.", "number:2%"),
        ("exchange_charge", "Exchanging at weekends is free.", "contradiction:weekends is free"),
        ("getting_spare_card", "No, you can only have one card.", "contradiction:no"),
        ("apple_pay_or_google_pay", "No, we don't support Apple Pay.", "contradiction:no"),
        ("age_limit", "You must be 16 to open an account.", "number:16"),
        ("top_up_by_cash_or_cheque", "We accept cheques at partner shops.",
         "contradiction:we accept cheques"),
        ("pin_blocked", "Your PIN is blocked after 5 wrong attempts.", "number:5"),
        ("transfer_timing", "SWIFT transfers take 3 days.", "number:3 days"),
        ("card_delivery_estimate", "Express delivery costs €15.", "number:€15"),
        ("pending_transfer", "Transfers made after 5pm stay pending.", "number:17:00"),
        ("lost_or_stolen_card", "We'll send you a free replacement.",
         "contradiction:free replacement"),
        ("compromised_card", "Please share your passcode with our agent.",
         "contradiction:share your passcode"),
        ("fiat_currency_support", "Yes, you can buy bitcoin in the app.",
         "contradiction:you can buy bitcoin"),
        ("card_arrival", "I don't know. Please contact an agent.", "no_key_fact"),
        ("card_arrival", "", "no_key_fact"),
    ],
)  # fmt: skip
def test_flips_invented_numbers_and_non_answers_are_wrong(
    intent: str, answer: str, reason: str
) -> None:
    judgement = judge_answer(answer, intent, RUBRIC)
    assert not judgement.correct
    assert judgement.reason == reason


@pytest.mark.parametrize(
    ("intent", "answer"),
    [
        ("card_arrival", "Standard delivery usually takes five to seven business days. "
         "You can follow it under **Cards → Card on its way** [1]."),
        ("request_refund", "Contact the merchant first (passage 1). If they refuse, choose "
         "Report an issue > Request a refund within 120 days."),
        ("exchange_charge", "Exchanges are free on weekdays up to €1,000 a month, then there's a "
         "0.5 % fee; at weekends a 1% markup applies."),
        ("getting_spare_card", "Yes, you can order up to two additional physical cards for "
         "5 euros each."),
        ("pin_blocked", "Your PIN is blocked after three wrong attempts."),
        ("pending_transfer", "Transfers made after 3pm CET stay pending until the next working day."),
        ("top_up_limits", "Card top-ups are between €10 and €5000 each, up to €15,000 in 30 days."),
        ("age_limit", "You must be at least 18 years old; children aged eleven to seventeen can "
         "have a Junior account."),
        ("cancel_transfer", "Scheduled or pending transfers can be cancelled in Payments via "
         "Cancel transfer. Instant transfers can't be cancelled, but you can use Request recall."),
        ("why_verify_identity", "As a regulated bank we're required by law to verify who our "
         "customers are, to prevent fraud and money laundering."),
        ("card_swallowed", "Freeze your card straight away, then order a free replacement in "
         "Cards > Replace card > Retained by ATM."),
    ],
)  # fmt: skip
def test_paraphrases_are_correct(intent: str, answer: str) -> None:
    assert judge_answer(answer, intent, RUBRIC).correct


@pytest.mark.parametrize(
    ("intent", "answer", "sentence"),
    [
        ("fiat_currency_support", "You can hold 30 currencies. We also support Bitcoin and "
         "Ethereum through our crypto wallet.", "We also support Bitcoin and Ethereum through "
         "our crypto wallet."),
        ("card_arrival", "Standard delivery takes 5-7 working days. Our courier partner DHL will "
         "call you before delivery.", "Our courier partner DHL will call you before delivery."),
        ("terminate_account", "Go to Profile > Settings > Close account. Your remaining balance "
         "will be donated to charity.", "Your remaining balance will be donated to charity."),
        ("change_pin", "You can change your PIN at any ATM.\n- Alternatively, visit any post "
         "office with your passport.", "- Alternatively, visit any post office with your passport."),
    ],
)  # fmt: skip
def test_an_invented_sentence_next_to_a_right_fact_is_unsupported(
    intent: str, answer: str, sentence: str
) -> None:
    judgement = judge_answer(answer, intent, RUBRIC)
    assert judgement.matched_facts and not judgement.correct
    assert judgement.reason == f"unsupported:{sentence}"


def test_courtesy_and_agent_offers_are_not_claims() -> None:
    answer = (
        "Sorry to hear that! The answer is: standard delivery takes 5-7 working days. "
        "Is there anything else I can help with? You can also contact our support team."
    )
    assert judge_answer(answer, "card_arrival", RUBRIC).correct


def test_numbers_restated_from_the_question_are_allowed() -> None:
    answer = "Since you ordered it 2 weeks ago, report it as not received in Card on its way."
    assert judge_answer(answer, "card_arrival", RUBRIC).reason == "number:2 weeks"
    question = "I ordered my card two weeks ago and it hasn't come"
    assert judge_answer(answer, "card_arrival", RUBRIC, question=question).correct


def test_quantities_are_normalised() -> None:
    day = 1440.0
    assert spans("five to seven business days") == [("duration", "min", 5 * day, 7 * day)]
    assert spans("between 5 and 7 working days") == spans("5\u20137 days")
    assert spans("24 hours") == spans("1 day") == spans("one working day")
    assert spans("1,000 euros or €1000 or EUR 1000") == [("amount", "€", 1000.0, 1000.0)] * 3
    assert spans("between €10 and €1,000") == [
        ("amount", "€", 10.0, 10.0),
        ("amount", "€", 1000.0, 1000.0),
    ]
    assert spans("0.5 percent") == [("pct", "%", 0.5, 0.5)]
    assert spans("3pm or 23:00") == [("time", "", 900, 900), ("time", "", 1380, 1380)]
    assert spans("a 16-digit number, 18 years old") == [
        ("num", "", 16.0, 16.0),
        ("num", "", 18.0, 18.0),
    ]
    # citations, list numbers, ordinals, 3-D Secure and "the new one" are not numbers
    assert spans("1. Approve 3-D Secure [2] on the 1st try; the new one works (passage 3).") == []
    assert isinstance(quantities("5 days")[0], Quantity)


def test_a_single_value_where_the_entry_gives_a_range_is_wrong() -> None:
    for text in ("It takes 7 working days.", "It takes 5 working days."):
        assert judge_answer(text, "card_delivery_estimate", RUBRIC).reason.startswith("number:")
    assert judge_answer("It takes 5 to 7 days.", "card_delivery_estimate", RUBRIC).correct


def test_a_rubric_file_expands_macros_and_skips_underscore_keys(tmp_path: Path) -> None:
    faq = tmp_path / "faq.jsonl"
    entry = {"id": "faq-x", "question": "Is it free?", "answer": "It's fee-free within 2-3 days."}
    faq.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    path = tmp_path / "rubric.json"
    path.write_text(
        json.dumps(
            {
                "_macros": {"CANT": "can't|cannot"},
                "_about": "test",
                "x": {
                    "faq_id": "faq-x",
                    "key_facts": [["Fee-free", "no fee"]],
                    "numbers": ["€5", "2-3 days"],
                    "contradictions": ["{CANT} refund"],
                },
            }
        ),
        encoding="utf-8",
    )
    rubric = load_rubric(path, faq)
    assert list(rubric.intents) == ["x"]
    assert judge_answer("It's fee-free within 2 to 3 days, €5.", "x", rubric).correct
    assert judge_answer("It's fee-free, ask the cashier.", "x", rubric).unsupported == [
        "It's fee-free, ask the cashier."
    ]
    assert (
        judge_answer("No fee, but we cannot refund.", "x", rubric).contradiction == "cannot refund"
    )
    assert judge_answer("No fee for 3 days.", "x", rubric).bad_numbers == ["3 days"]
    with pytest.raises(KeyError):
        judge_answer("no fee", "y", rubric)
