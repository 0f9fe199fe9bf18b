"""The published rubric that judges whether an answer to a BANKING77 query is right or wrong.

No model takes part: the rubric (``bench/data/grounding_rubric.json``, written by hand from the
demo FAQ, one record per intent) is checked by string and number matching only.

Rule. An answer to a query of intent *I* is **correct** iff, against the FAQ entry of *I*:

1. no ``contradictions`` pattern of *I* matches the answer (each pattern states the opposite of
   the entry, e.g. "no refund" where the entry promises one);
2. every number the answer states (amounts, percentages, durations, times of day, bare numbers)
   is among the entry's ``numbers``, or restated from the question. Amounts and percentages must
   have the same currency and value as one the entry states (each end of a range "between €10 and
   €1,000" counts); durations must have the same value in the same span, so "5 days" where the
   entry says "5-7 working days" is wrong while "5 to 7 business days" is right ("working",
   "business" and "calendar" are ignored; "24 hours" equals "1 day"); a number without a unit is
   accepted when the entry uses that value anywhere (e.g. "3 attempts");
3. every sentence that makes a claim is supported by the entry: at least ``_min_sentence_coverage``
   (0.5) of its content words (stemmed; ``_stopwords`` such as function words and the bank's name
   left out) occur in the
   entry's question, alternatives or answer, or in the query. Sentences that claim nothing
   (``_non_claims``: courtesy, apologies, offers of an agent, "the answer is in the passage") and
   a leading "The answer is:" / "Yes," / "No," are not counted; this catches invented additions
   ("Our courier partner DHL will call you") next to a right fact;
4. it carries at least one of the entry's ``key_facts``; a key fact is a list of acceptable
   phrasings, one of which must occur in the answer (whole words, after normalisation).

Otherwise it is **wrong**, and the reason is the first failed rule: ``contradiction:<text>``,
``number:<text>``, ``unsupported:<sentence>`` or ``no_key_fact``. A non-answer ("I don't know,
please contact an agent") carries no key fact, so it is wrong by this rubric; a bench that counts
sent answers decides what a refusal counts as.

Normalisation (answers, phrasings and the entry's numbers alike): lower case, NFKC, plain
quotes and dashes, markdown marks and citations ("[1]", "passage 2") removed, arrows become ">",
number words become digits ("five to seven" -> "5-7"; "one" only before a unit), "between X and
Y" / "X to Y" become "X-Y", thousands separators dropped, "euros"/"EUR" become "€", "3pm" becomes
"15:00", "3-D Secure" becomes one word, "working"/"business"/"calendar" before "day(s)",
"week(s)" or "month(s)" are dropped ("5-7 working days" -> "5-7 days").

Patterns in ``contradictions`` are Python regular expressions over the normalised text, matched
whole-word; ``{NAME}`` expands the rubric's ``_macros`` (e.g. ``{CANT}`` = can't, cannot, unable
to, ...). Keys starting with "_" in the rubric file are not intents.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "data" / "grounding_rubric.json"
FAQ = Path(__file__).resolve().parents[1] / "data" / "demo" / "faq.jsonl"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_BULLET = re.compile(r"^(?:[-*\u2022]|\d+[.)])\s+")
_PREFIX = re.compile(
    r"^(?:(?:the )?(?:correct )?answer(?: to (?:your|this|the) question)? (?:is|would be)\s*:?\s*"
    r"|(?:yes|no)\b[,.!:]?\s*|[\"'])+"
)
_CONTENT = re.compile(r"[a-z][a-z'-]*[a-z]")

_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}  # fmt: skip
_UNIT_MIN = {
    "second": 1 / 60, "sec": 1 / 60, "minute": 1.0, "min": 1.0, "hour": 60.0, "hr": 60.0,
    "day": 1440.0, "week": 10080.0, "month": 43200.0, "year": 525600.0,
}  # fmt: skip
_UNIT_WORD = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
_NUM = r"\d+(?:\.\d+)?"
_CUR = {"€": "€", "eur": "€", "euro": "€", "euros": "€", "£": "£", "gbp": "£", "pounds": "£",
        "$": "$", "usd": "$", "dollars": "$"}  # fmt: skip
_SUBS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in (
        (r"[\u2018\u2019\u02bc`\u00b4]", "'"),
        (r"[\u201c\u201d]", '"'),
        (r"[\u2010-\u2015\u2212]", "-"),
        (r"\u2192|\u21d2|\u203a|\u00bb|->|=>", ">"),
        (r"\[\s*\d+(?:\s*[,-]\s*\d+)*\s*\]", " "),  # citations [1], [1, 2]
        (r"\(?\b(?:passages?|sources?|steps?)\s+\d+(?:\s*(?:,|and|&)\s*\d+)*\)?", " "),
        (r"(?m)^\s*\d+[.)]\s+", " "),  # numbered list items
        (r"[*_#]+", " "),
        (r"\b3-?d[ -]?secure\b|\b3ds\b", "threedsecure"),
        (r"\b(?:working|business|calendar|banking) (days?|weeks?|months?)\b", r"\1"),
        (r"\b(\d{1,2})(?::(\d{2}))?\s*(a|p)\.?m\b\.?", "<ampm>"),
        (r"(?<=\d),(?=\d{3}\b)", ""),
        (r"\s*%|\s+per\s?cent\b", "%"),
        (r"\b(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b", "<word>"),
        (r"\bone(?=[\s-]+(?:(?:working|calendar)\s+)?" + _UNIT_WORD + r"\b)", "1"),
        (r"\b(eur|euros?|gbp|pounds|usd|dollars)\s*(?=\d)", "<cur>"),
        (r"(?<=\d)\s*(eur|euros?|gbp|pounds|usd|dollars)\b|(?<=\d)\s*([€£$])", "<cursuffix>"),
        (r"([€£$])\s+(?=\d)", r"\1"),
        (r"\bbetween\s+([€£$]?" + _NUM + r")\s+and\s+([€£$]?" + _NUM + r")", r"\1-\2"),
        (r"(?<![\d:.])([€£$]?" + _NUM + r")\s*(?:-|to)\s*([€£$]?" + _NUM + r")(?![\d:])", r"\1-\2"),
        (r"\s*>\s*", " > "),
        (r"\s+", " "),
    )
]
_TIME = re.compile(r"(?<![\d.])(\d{1,2}):(\d{2})(?!\d)")
_QTY = re.compile(
    r"(?<![\w.])([€£$])?(" + _NUM + r")(?:-([€£$])?(" + _NUM + r"))?(%)?(?![a-z\d])"
    r"(?:(?:\s+|-)(?:(?:working|calendar|banking)\s+)?("
    + _UNIT_WORD
    + r")(?![a-z])((?:\s+|-)old)?)?"
)


def _sub(pattern: re.Pattern[str], repl: str, text: str) -> str:
    def fix(m: re.Match[str]) -> str:
        if repl == "<word>":
            return str(_WORDS[m.group(1)])
        if repl == "<ampm>":
            hour = int(m.group(1)) % 12 + (12 if m.group(3) == "p" else 0)
            return f"{hour:02d}:{m.group(2) or '00'}"
        if repl == "<cur>":
            return _CUR[m.group(1)]
        if repl == "<cursuffix>":
            return f" {_CUR[m.group(1) or m.group(2)]}"
        return m.expand(repl)

    return pattern.sub(fix, text)


def normalise(text: str) -> str:
    """The text the rubric is matched on (see the module docstring)."""
    out = unicodedata.normalize("NFKC", text).lower()
    for pattern, repl in _SUBS:
        out = _sub(pattern, repl, out)
    # "5 €" -> "€5": a currency written after its number moves in front of it
    out = re.sub(r"(" + _NUM + r") ([€£$])(?![\w€£$])", r"\2\1", out)
    return out.strip()


@dataclass(frozen=True)
class Quantity:
    """A number stated in a text: kind "amount" (unit €/£/$), "pct", "duration" (in minutes),
    "time" (minutes after midnight) or "num" (no unit); ``raw`` keeps the written values."""

    kind: str
    unit: str
    low: float
    high: float
    raw: tuple[float, float]
    text: str


def quantities(normalised: str) -> list[Quantity]:
    """Every quantity in an already normalised text. Ranges of amounts and percentages count as
    their two ends; ranges of durations and bare numbers stay ranges."""
    out: list[Quantity] = []
    for m in _TIME.finditer(normalised):
        value = int(m.group(1)) * 60 + int(m.group(2))
        out.append(Quantity("time", "", value, value, (value, value), m.group()))
    rest = _TIME.sub(" ", normalised)
    for m in _QTY.finditer(rest):
        cur, a, cur2, b, pct, unit, old = m.groups()
        low, high = float(a), float(b) if b else float(a)
        text = m.group().strip()
        if cur or cur2 or pct:
            kind, u = ("pct", "%") if pct else ("amount", cur or cur2 or "")
            for v in dict.fromkeys((low, high)):
                out.append(Quantity(kind, u, v, v, (v, v), text))
        elif unit and not old:
            factor = _UNIT_MIN[unit.rstrip("s")]
            out.append(Quantity("duration", "min", low * factor, high * factor, (low, high), text))
        else:
            out.append(Quantity("num", "", low, high, (low, high), text))
    return out


def _stated(q: Quantity, allowed: list[Quantity]) -> bool:
    if q.kind == "num":
        values = {v for a in allowed for v in a.raw}
        return any(a.raw == q.raw for a in allowed) or {q.low, q.high} <= values
    return any(
        a.kind == q.kind and a.unit == q.unit and a.low == q.low and a.high == q.high
        for a in allowed
    )


@dataclass(frozen=True)
class IntentRubric:
    """One intent's record: its FAQ entry id, key facts (normalised phrasings), stated numbers,
    and contradiction patterns (source text, compiled)."""

    intent: str
    faq_id: str
    key_facts: list[list[str]]
    numbers: list[Quantity]
    contradictions: list[tuple[str, re.Pattern[str]]]
    vocabulary: frozenset[str] = frozenset()  # content-word stems of the FAQ entry's text


@dataclass(frozen=True)
class Rubric:
    """The whole rubric, by intent."""

    intents: dict[str, IntentRubric]
    path: Path
    non_claims: list[re.Pattern[str]] = field(default_factory=list)
    min_coverage: float = 0.5
    stopwords: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Judgement:
    """The verdict on one answer; ``reason`` is "correct", "no_key_fact", "number:<text>",
    "unsupported:<sentence>" or "contradiction:<text>"."""

    correct: bool
    reason: str
    matched_facts: list[str] = field(default_factory=list)
    bad_numbers: list[str] = field(default_factory=list)
    contradiction: str | None = None
    unsupported: list[str] = field(default_factory=list)


def _stem(word: str) -> str:
    w = word.split("'")[0]
    for suffix in ("ing", "ies", "ied", "es", "ed", "ly", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return w[:-1] if w.endswith("e") and len(w) > 4 else w


def content_stems(normalised: str, stopwords: frozenset[str]) -> list[str]:
    """Stems of the content words of a normalised text (``stopwords`` and words of under three
    letters left out)."""
    return [_stem(w) for w in _CONTENT.findall(normalised) if w not in stopwords and len(w) > 2]


def _unsupported(text: str, rec: IntentRubric, rubric: Rubric, question: str) -> list[str]:
    vocabulary = rec.vocabulary | set(content_stems(normalise(question), rubric.stopwords))
    out = []
    for raw in _SENTENCE.split(unicodedata.normalize("NFKC", text)):
        sentence = _PREFIX.sub("", normalise(_BULLET.sub("", raw.strip())))
        stems = content_stems(sentence, rubric.stopwords)
        if not stems or any(p.search(sentence) for p in rubric.non_claims):
            continue
        if sum(st in vocabulary for st in stems) < rubric.min_coverage * len(stems):
            out.append(raw.strip())
    return out


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])")


def load_rubric(path: Path = DEFAULT, faq: Path = FAQ) -> Rubric:
    """Read the rubric file, normalise its phrasings and numbers, compile its patterns; the
    FAQ file gives each entry's vocabulary (its question, alternatives and answer)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    stopwords = frozenset(raw.get("_stopwords", "").split())
    texts = {}
    for line in Path(faq).read_text(encoding="utf-8").splitlines():
        if line.strip():
            e = json.loads(line)
            texts[e["id"]] = " ".join([e["question"], *e.get("alternatives", []), e["answer"]])
    macros: dict[str, str] = raw.get("_macros", {})
    intents: dict[str, IntentRubric] = {}
    for intent, rec in raw.items():
        if intent.startswith("_"):
            continue
        numbers = [q for n in rec["numbers"] for q in quantities(normalise(n))]
        patterns = []
        for source in rec["contradictions"]:
            expanded = re.sub(r"\{([A-Z_]+)\}", lambda m: f"(?:{macros[m.group(1)]})", source)
            patterns.append((source, re.compile(r"(?<![a-z0-9])(?:" + expanded + r")(?![a-z0-9])")))
        facts = [[normalise(p) for p in fact] for fact in rec["key_facts"]]
        if rec["faq_id"] not in texts:
            raise ValueError(f"{intent}: {rec['faq_id']} is not in {faq}")
        text = normalise(texts[rec["faq_id"]])
        vocabulary = frozenset(content_stems(text, stopwords))
        intents[intent] = IntentRubric(intent, rec["faq_id"], facts, numbers, patterns, vocabulary)
    non_claims = [re.compile(p) for p in raw.get("_non_claims", [])]
    coverage = float(raw.get("_min_sentence_coverage", 0.5))
    return Rubric(intents, Path(path), non_claims, coverage, stopwords)


def judge_answer(
    text: str, intent: str, rubric: Rubric, *, question: str | None = None
) -> Judgement:
    """Judge ``text`` as an answer to a query of ``intent`` by the rule in the module docstring.
    Numbers and words restated from ``question`` (when given) count as supported."""
    rec = rubric.intents[intent]
    norm = normalise(text)
    matched = [
        hit
        for fact in rec.key_facts
        if (hit := next((p for p in fact if _phrase_pattern(p).search(norm)), None)) is not None
    ]
    allowed = rec.numbers + (quantities(normalise(question)) if question else [])
    bad = [q.text for q in quantities(norm) if not _stated(q, allowed)]
    found = next((m for _, p in rec.contradictions if (m := p.search(norm))), None)
    contradiction = found.group() if found else None
    unsupported = _unsupported(text, rec, rubric, question or "") if rubric.min_coverage else []
    if contradiction is not None:
        reason = f"contradiction:{contradiction}"
    elif bad:
        reason = f"number:{bad[0]}"
    elif unsupported:
        reason = f"unsupported:{unsupported[0]}"
    elif not matched:
        reason = "no_key_fact"
    else:
        reason = "correct"
    return Judgement(reason == "correct", reason, matched, bad, contradiction, unsupported)
