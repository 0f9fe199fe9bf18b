"""The retrieval-only rules: what they recognise, what they must leave to retrieval, and that
untrusted text costs linear work."""

from __future__ import annotations

import pytest

from backend.answers import rules
from backend.answers.policy import HANDOFF_INTENTS, SMALLTALK_INTENTS
from backend.answers.rules import match

pytestmark = pytest.mark.unit


def intent(text: str, product: str = "Lumen Bank") -> str | None:
    found = match(text, product_name=product)
    return found.intent if found else None


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "can I speak to an agent?",
        "Can I speak to a real person please",
        "could I talk to someone",
        "how do I talk to someone about my card being declined",
        "i need to talk to someone about a payment I don't recognise",
        "connect me with a real support agent asap",
        "Transfer me to customer service",
        "put me through to a member of staff",
        "Hand me over to a human, please.",
        "get me a live agent",
        "I'd rather talk to someone from the support team, this bot isn't understanding me.",
        "Please escalate this to a human agent, I've been going round in circles.",
        "i need a human not a robot",
        "Is there an actual person I can chat to?",
        "operator",
        "operator please",
        "agent",
        "human please",
        "real person",
        "live chat",
        "speak to representative",
        "HI, CAN I TALK TO A HUMAN",
        "I want to speak to customer service",
        "talk to someone",
        "can I speak to a Lumen agent",
        "I want to talk to someone from Lumen Bank",
    ],
)
def test_requests_for_a_person_hand_over(text: str) -> None:
    assert intent(text) == "human_agent"


@pytest.mark.parametrize(
    "text",
    [
        "this is ridiculous, I want to make a complaint",
        "I want to file a complaint",
        "I want to file a formal complaint.",
        "how do I make a complaint",
        "i want to complain",
        "complaint",
        "this is the worst bank",
        "terrible customer service",
        "I'm going to report you to the financial ombudsman if this isn't sorted.",
    ],
)
def test_complaints_hand_over(text: str) -> None:
    assert intent(text) == "complaint"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi there", "greeting"),
        ("Hello", "greeting"),
        ("good morning", "greeting"),
        ("hey, anyone there?", "greeting"),
        ("Hello, I hope you're well.", "greeting"),
        ("hey Lumen", "greeting"),
        ("hi, what's up", "greeting"),
        ("thank you", "thanks"),
        ("thanks!", "thanks"),
        ("cheers", "thanks"),
        ("Thank you, that solved my problem.", "thanks"),
        ("much appreciated", "thanks"),
        ("thanks, bye", "goodbye"),
        ("goodbye", "goodbye"),
        ("ok bye", "goodbye"),
        ("That's all I needed, goodbye.", "goodbye"),
        ("have a nice day", "goodbye"),
        ("see you later", "goodbye"),
    ],
)
def test_bare_small_talk(text: str, expected: str) -> None:
    assert intent(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hi, my card was declined",
        "hello, how do I reset my PIN?",
        "good morning, my card still hasn't arrived",
        "thanks, but my transfer is still pending",
        "thank you. can I top up with a credit card?",
        "bye the way, what are the fees for topping up",
        "my card still hasn't arrived, it's been two weeks",
        "are there fees for topping up with a credit card",
        "what is the weather in Paris",
        "I want to transfer money to someone",
        "Can I send money to another person?",
        "Someone used my card without my permission",
        "do I have to talk to someone to close my account or can I do it in the app",
        "Do I need to speak to a representative to change my PIN?",
        "should I contact customer support if I can't edit my details",
        "I don't want to talk to an agent, just tell me the fee",
        "I'm not complaining about the fee, the exchange rate is wrong",
        "Is there a fee for a transfer to a person abroad?",
        "is this a bot?",
        "",
        "   ",
    ],
)
def test_banking_questions_and_others_are_left_to_retrieval(text: str) -> None:
    assert intent(text) is None


def test_intents_are_the_policys_reserved_ones() -> None:
    names = {"human_agent", "complaint", "greeting", "thanks", "goodbye"}
    assert names == HANDOFF_INTENTS | set(SMALLTALK_INTENTS)
    samples = ["agent", "complaint", "hi", "thanks", "bye"]
    assert {intent(s) for s in samples} == names


def test_trace_names_the_rule() -> None:
    found = match("I want to talk to a human")
    assert found is not None
    assert found.trace() == {"intent": "human_agent", "rule": "person_request"}
    assert match("agent please") == rules.RuleMatch("human_agent", "person_short")


def test_only_the_first_characters_are_read() -> None:
    # small talk padded past the cap is cut, and what lies beyond the cap is never matched
    assert intent("hello " + "x" * rules.MAX_CHARS + " talk to a human") is None
    assert len(rules.words("a " * 10_000)) == rules.MAX_CHARS // 2


@pytest.mark.parametrize(
    "text",
    [
        "talk " * 50_000,
        "talk to " * 30_000 + "x",
        "hi " * 100_000,
        "'" * 200_000,
        "a'" * 100_000,
        ("complaint " + " " * 1000) * 200,
    ],
)
def test_adversarial_input_does_bounded_work(text: str) -> None:
    # whatever the length, at most MAX_CHARS characters reach the word regex and the word
    # loops: count the words the matcher can see instead of timing it
    assert len(rules.words(text)) <= rules.MAX_CHARS
    match(text)  # finishes (a quadratic pattern on 200,000 characters would not, in a test)
