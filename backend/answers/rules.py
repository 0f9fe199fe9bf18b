"""What the retrieval-only path recognises without an intent model: an explicit request for a
person, a complaint, and messages that are only a greeting, thanks or a goodbye.

Before a product's intent model is active (a fresh install trains it after start-up), the policy
would otherwise answer "I want to talk to a human" from the nearest FAQ entry. These rules name
the same reserved intents as the model (``human_agent``, ``complaint``, ``greeting``, ``thanks``,
``goodbye``), so the policy gives the same routes and replies with or without a model.

The text is untrusted: it is cut to ``MAX_CHARS`` first, split into words by one linear regex,
and everything else is set and sequence lookups over that word list (no backtracking pattern
ever sees the text). Small talk is recognised only when the message is essentially just that
(every word belongs to the small-talk vocabulary), so "hi, my card was declined" is a question.
On BANKING77 train (10,003 banking questions) 2 fire: "How do I contact customer support about
my declined transfer?" (a person) and "I want to close my account due to poor customer service."
(a complaint); ``bench/floor.py`` counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 300  # longer messages are questions, not a bare "hi" or "agent please"
MAX_SMALLTALK_WORDS = 12
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Talking to someone: the verb, then (after "me", prepositions, articles, adjectives) the person.
_TALK = _set("talk talking speak speaking chat chatting connect escalate reach contact")
_TALK_ME = _set("transfer put hand pass get forward redirect")  # only with "me"
_WANT = _set("need want prefer rather there")  # only with a strong noun or "real person"
_STRONG = _set(
    "human humans agent agents operator representative representatives rep advisor adviser "
    "advisors advisers"
)
_WEAK = _set(
    "someone somebody person people staff team service support member manager supervisor employee"
)
_LIVE = _set("real actual live human proper")
_FILLER = _LIVE | _set(
    "me us to with through over a an the some one of your you from at in customer support "
    "service team please directly this it my issue case query request problem"
)
_SHORT_PERSON = ("real person", "live chat", "live person", "customer service", "human being")
_SHORT_VOCAB = (
    _STRONG
    | _LIVE
    | _set("please pls plz a an now asap person chat customer service being i need want")
)
_COMPLAINT = _set("complaint complaints complain complaining complained ombudsman")
_BAD = _set("worst terrible awful appalling horrible rubbish useless pathetic poor")
_BAD_OF = _set("bank service support app experience company")
_NEGATION = _set("not don't dont never no without doesn't didn't won't isn't")
# "do I have to talk to someone to close my account?" asks what is required, not for a person;
# "it asked me to contact support" reports what happened
_NOT_A_REQUEST = (
    ("do", "i", "have", "to"),
    ("do", "i", "need", "to"),
    ("will", "i", "have", "to"),
    ("will", "i", "need", "to"),
    ("should", "i"),
    ("must", "i"),
    ("asked", "me", "to"),
    ("told", "me", "to"),
)

_GREETING_CORE = _set(
    "hi hello hey hiya howdy yo greetings heya heyo hallo hola morning afternoon sup wassup "
    "salutations aloha"
)
_GREETING_PHRASES = ("good evening", "good day", "what's up", "whats up", "how are you")
_GREETING = _GREETING_CORE | _set(
    "there good evening day everyone all guys folks team anyone anybody around here again dear "
    "how how's hows are you doing doin today i hope you're youre well and to sir madam bot "
    "assistant ai oh why what's whats up it going things my friend fellow is been have nice "
    "see just wanted say"
)
_THANKS_CORE = _set(
    "thanks thank thx ty cheers appreciate appreciated thankyou tnx grateful thankful gratitude "
    "obliged"
)
_THANKS = _THANKS_CORE | _set(
    "you so much very a lot lots many for your the help helping info information answer that "
    "that's thats it great perfect awesome brilliant nice cool good ok okay really helpful "
    "helped has was mate million solved my problem this all again much me out assist "
    "assistance am i i'm im kindly sincere special you've been big"
)
_BYE_CORE = _set("bye goodbye goodnight byebye buhbye cya ciao adios farewell later")
_BYE_PHRASES = (
    "see you",
    "see ya",
    "take care",
    "good night",
    "have a nice",
    "have a good",
    "have a great",
    "that's all",
    "thats all",
    "that is all",
    "that's everything",
    "nothing else",
    "i'm done",
    "im done",
    "until next time",
    "peace out",
    "take it easy",
)
_BYE = _BYE_CORE | _set(
    "ok okay for now then you ya soon have a nice good great day evening weekend that's thats "
    "that is all everything it i'm im done nothing else today well alright so and see take "
    "care night talk catch until next time peace out around easy i need needed"
)


@dataclass(frozen=True)
class RuleMatch:
    """A recognised message: the reserved intent the model would name, and the rule that fired."""

    intent: str  # human_agent, complaint, greeting, thanks or goodbye
    rule: str

    def trace(self) -> dict[str, str]:
        """The message trace's ``rule`` field."""
        return {"intent": self.intent, "rule": self.rule}


def words(text: str) -> list[str]:
    """The message's lower-case words (apostrophes kept inside words), from its first
    ``MAX_CHARS`` characters."""
    return _WORD.findall(text[:MAX_CHARS].lower().replace("\u2019", "'"))


def _hedged(ws: list[str], i: int) -> bool:
    """The word at ``i`` is negated or only asked about ("don't want an agent", "should I
    contact support")."""
    if any(w in _NEGATION for w in ws[max(0, i - 3) : i]):
        return True
    return any(tuple(ws[max(0, i - len(p)) : i]) == p for p in _NOT_A_REQUEST)


def _complains(ws: list[str]) -> bool:
    for i, w in enumerate(ws):
        if w in _COMPLAINT and not _hedged(ws, i):
            return True
        if w in _BAD and any(n in _BAD_OF for n in ws[i + 1 : i + 3]):
            return True  # "worst bank", "terrible customer service"
    return False


def _asks_for_person(ws: list[str], product: frozenset[str]) -> str | None:
    joined = f" {' '.join(ws)} "
    if (
        len(ws) <= 4
        and all(w in _SHORT_VOCAB for w in ws)
        and (any(w in _STRONG for w in ws) or any(f" {p} " in joined for p in _SHORT_PERSON))
    ):
        return "person_short"  # "agent", "operator please", "real person", "live chat"
    for i, verb in enumerate(ws):
        talk, want = verb in _TALK, verb in _WANT
        if not (talk or want or verb in _TALK_ME) or _hedged(ws, i):
            continue
        rest = ws[i + 1 : i + 8]
        if verb in _TALK_ME and rest[:1] not in (["me"], ["us"]):
            continue  # "transfer money to someone" is a payment, "transfer me to" a request
        live = False
        for w in rest:
            if w in _STRONG or (w in _WEAK and (talk or verb in _TALK_ME or live)):
                return "person_request"
            if w not in _FILLER and w not in product:  # "a Lumen agent" names the product
                break
            live = live or w in _LIVE
    return None


def _smalltalk(ws: list[str], allowed_extra: frozenset[str]) -> RuleMatch | None:
    if not ws or len(ws) > MAX_SMALLTALK_WORDS:
        return None
    vocabulary = _GREETING | _THANKS | _BYE | allowed_extra
    if any(w not in vocabulary for w in ws):
        return None  # something else is said: a question for retrieval
    joined = f" {' '.join(ws)} "
    if any(w in _BYE_CORE for w in ws) or any(f" {p} " in joined for p in _BYE_PHRASES):
        return RuleMatch("goodbye", "goodbye_only")  # "thanks, bye" ends the conversation
    if any(w in _THANKS_CORE for w in ws):
        return RuleMatch("thanks", "thanks_only")
    if any(w in _GREETING_CORE for w in ws) or any(f" {p} " in joined for p in _GREETING_PHRASES):
        return RuleMatch("greeting", "greeting_only")
    return None


def match(text: str, *, product_name: str = "") -> RuleMatch | None:
    """The reserved intent a message expresses, if a rule recognises it: a request for a person
    (anywhere in the message), a complaint, or a message that is only small talk (the product's
    name may appear in it: "hey Lumen"). None for everything else."""
    ws, product = words(text), frozenset(words(product_name))
    rule = _asks_for_person(ws, product)
    if rule is not None:
        return RuleMatch("human_agent", rule)
    if _complains(ws):
        return RuleMatch("complaint", "complaint")
    return _smalltalk(ws, product)
