"""The deterministic fact checks: quantities, negations and yes/no against the passages."""

from __future__ import annotations

import pytest

from ml.generation.facts import fact_conflicts
from ml.generation.quantities import quantities, tokens

pytestmark = pytest.mark.unit

REFUND = [
    "Tap the payment to see the merchant's full name. If you still don't recognise it, freeze "
    "your card. We'll cancel the card, send you a free replacement and investigate, and if the "
    "payment wasn't made by you, we'll refund it.",
    "Contact the merchant first. If they refuse, you can ask for a refund in the app within "
    "120 days of the payment.",
]
DELIVERY = [
    "Standard delivery is free and takes 5-7 working days. Express delivery costs €9 and takes "
    "1-3 working days, with tracking.",
    "Replacements for lost, stolen or damaged cards cost €5.",
]


def _q(text: str) -> list[tuple[str, str, float, float, str]]:
    return [(q.kind, q.unit, q.low, q.high, q.bound) for q in quantities(tokens(text))]


def test_quantities_are_normalised() -> None:
    day = 1440.0
    assert _q("5-7 working days") == [("duration", "min", 5 * day, 7 * day, "")]
    assert _q("5 to 7 days") == _q("5\u20137 days") == _q("between 5 and 7 days")
    assert _q("two weeks") == _q("14 days")
    assert _q("24 hours") == [("duration", "min", day, day, "")]
    assert _q("up to 10 working days") == [("duration", "min", 10 * day, 10 * day, "max")]
    assert _q("€1,000") == _q("1000 euros") == [("amount", "EUR", 1000.0, 1000.0, "")]
    assert _q("£1.50") == [("amount", "GBP", 1.5, 1.5, "")]
    assert _q("between €10 and €5,000") == [("amount", "EUR", 10.0, 5000.0, "")]
    assert _q("a 0.5% fee") == _q("0.5 percent fee") == [("amount", "%", 0.5, 0.5, "")]
    assert _q("it's free") == _q("no fee") == _q("we don't charge anything")
    assert _q("free")[0][:2] == ("amount", "ZERO")
    assert _q("feel free to ask") == []
    assert _q("15:00 CET") == [("time", "", 900.0, 900.0, "")]
    assert _q("a 16-digit number") == [("number", "", 16.0, 16.0, "")]
    assert _q("order a new one") == []  # "one" alone is no number in an answer
    assert _q("see [1] and [2, 3]") == []  # citations are not numbers


def test_the_issues_refund_example() -> None:
    assert "negation" in fact_conflicts("No, you cannot get a refund.", REFUND)
    assert "polarity" in fact_conflicts("No, you cannot get a refund.", REFUND)
    assert fact_conflicts("Yes, you can get a refund.", REFUND) == []
    assert "negation" in fact_conflicts(
        "You can't get a refund for a card payment you don't recognise.", REFUND
    )
    assert fact_conflicts("If you didn't make the payment, we'll refund it.", REFUND) == []
    assert fact_conflicts("We will not refund it.", REFUND) == ["negation"]


def test_the_issues_delivery_example() -> None:
    assert fact_conflicts("Your card arrives in 5 days.", DELIVERY) == ["number:5 days"]
    assert fact_conflicts("Standard delivery takes 5 working days.", DELIVERY) == [
        "number:5 working days"
    ]
    for faithful in (
        "Standard delivery takes 5 to 7 working days.",
        "Standard delivery takes 5-7 days and costs nothing.",
        "It can take up to 7 working days with standard delivery.",
        "Express delivery is €9 and takes 1-3 working days.",
    ):
        assert fact_conflicts(faithful, DELIVERY) == [], faithful
    assert fact_conflicts("Express delivery takes 1-2 working days.", DELIVERY) == [
        "number:1-2 working days"
    ]
    assert fact_conflicts("Express delivery takes 7 working days.", DELIVERY) == [
        "number:7 working days"
    ]


def test_amounts_need_the_same_value_and_unit_in_related_evidence() -> None:
    assert fact_conflicts("Express delivery costs €15.", DELIVERY) == ["amount:€15"]
    assert fact_conflicts("Express delivery costs £9.", DELIVERY) == ["amount:£9"]
    assert fact_conflicts("Express delivery costs 9%.", DELIVERY) == ["amount:9%"]
    # €5 is in the evidence, but for replacements: not for express delivery
    assert fact_conflicts("Express delivery costs €5.", DELIVERY) == ["amount:€5"]
    assert fact_conflicts("A replacement for a damaged card costs €5.", DELIVERY) == []
    assert fact_conflicts("Replacement cards cost €0.", DELIVERY) != []


def test_a_fee_where_the_evidence_says_free() -> None:
    passages = ["Lumen Bank doesn't charge fees for card payments in any currency."]
    assert fact_conflicts("Lumen Bank charges a fee for card payments.", passages) == ["negation"]
    assert fact_conflicts("Card payments are free with Lumen Bank.", passages) == []
    assert fact_conflicts("There's no fee for card payments in any currency.", passages) == []


def test_negation_flips_and_faithful_negations() -> None:
    passages = [
        "Instant transfers complete in seconds and can't be cancelled. You can cancel a "
        "scheduled transfer in Payments.",
        "You can't add money or use your card until your identity is verified.",
        "Virtual cards can't be used at ATMs, or in shops unless added to Apple Pay.",
    ]
    assert fact_conflicts("Instant transfers can be cancelled.", passages) == ["negation"]
    assert (
        fact_conflicts(
            "Instant transfers go through in seconds, so they can't be cancelled.", passages
        )
        == []
    )
    assert fact_conflicts("You can cancel a scheduled transfer in Payments.", passages) == []
    assert fact_conflicts("Virtual cards can be used at ATMs.", passages) == ["negation"]
    assert fact_conflicts("You can add money once your identity is verified.", passages) == []
    assert fact_conflicts("You can add money while your identity is being verified.", passages) == [
        "negation"
    ]


def test_double_hypothetical_and_elliptic_negations_are_left_alone() -> None:
    passages = [
        "You can't withdraw cash without a PIN.",
        "If both payments are completed, ask the merchant to refund the duplicate. If they "
        "won't, choose Report an issue.",
        "If it hasn't arrived after 10 working days, report it.",
    ]
    assert fact_conflicts("You need a PIN to withdraw cash.", passages) == []
    assert fact_conflicts("If the merchant won't refund the duplicate, report it.", passages) == []
    assert (
        fact_conflicts("Cards arrive, and you can report one after 10 working days.", passages)
        == []
    )


def test_yes_no_against_an_evidence_answer() -> None:
    passages = ["Yes, you can have up to 2 additional physical cards for €5 each."]
    assert fact_conflicts("No, you can only have one physical card.", passages) == ["polarity"]
    assert fact_conflicts("Yes, up to 2 additional physical cards, €5 each.", passages) == []
