"""Tokens, word stems and quantities of a sentence, for the grounding check's fact comparison.

Quantities are normalised so that different wordings of one fact compare equal: "two weeks" and
"14 days" are both 20160 minutes, "€1,000" and "1000 euros" are both EUR 1000, "5 to 7 days" and
"5-7 days" are the same range, and "free", "no fee", "doesn't charge" are all an amount of zero.
Everything here is linear in the sentence (one tokenising regex without nested quantifiers, then
single passes over the tokens).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ml.generation.attribution import STOPWORDS

_TOKEN = re.compile(r"[£$€%]|\d+(?:[.,:]\d+)*|[a-z]+(?:'[a-z]+)*|[,;:()\[\]\-\u2013\u2014/]")
_CURRENCIES = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "chf": "CHF",
}  # fmt: skip
_MINUTES = {
    "second": 1 / 60, "minute": 1, "min": 1, "hour": 60, "hr": 60,
    "day": 1440, "week": 10080, "month": 43200, "year": 525600,
}  # fmt: skip
WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}  # fmt: skip
_RANGE = frozenset(("-", "\u2013", "to", "and"))
_MAX_BEFORE = frozenset(("within", "under", "max", "maximum", "below", "most", "less", "fewer"))
_MIN_BEFORE = frozenset(("least", "minimum", "min", "over", "above", "from", "after"))
_COST = frozenset(
    ("fee", "fees", "charge", "charges", "charged", "charging", "cost", "costs", "pay")
)


def word_set(text: str) -> frozenset[str]:
    """The white-space separated words of ``text`` as a set (for readable word lists)."""
    return frozenset(text.split())


_EXTRA_STOP = word_set("we you they it i there that here what who let get gets got getting")


@dataclass(frozen=True)
class Token:
    """A word, number, currency/percent symbol or punctuation mark, with its span."""

    text: str
    kind: str  # "word" | "number" | "symbol" | "punct"
    start: int
    end: int


@dataclass(frozen=True)
class Quantity:
    """A normalised amount, duration (in minutes), clock time or plain number."""

    kind: str  # "amount" | "duration" | "time" | "number"
    unit: str  # amounts: "EUR", "GBP", "USD", "CHF", "%" or "ZERO" (free); durations: "min"
    low: float
    high: float
    bound: str  # "max" ("up to 7 days"), "min" ("at least 18") or ""
    text: str
    at: int = field(default=0, compare=False)  # index of its first token

    def matches(self, other: Quantity) -> bool:
        """Whether ``other`` (from the evidence) states this quantity."""
        same = math.isclose(self.low, other.low) and math.isclose(self.high, other.high)
        single = math.isclose(self.low, self.high)
        endpoint = single and (
            math.isclose(self.low, other.low) or math.isclose(self.low, other.high)
        )
        if self.kind == "number":  # no unit written: any quantity with that value
            return same or endpoint
        if self.kind != other.kind:
            return False
        if self.kind == "amount":
            if "ZERO" in (self.unit, other.unit):
                return self.high == 0 and other.high == 0
            return self.unit == other.unit and (same or endpoint)
        if self.bound and other.bound and self.bound != other.bound:
            return False  # "up to 24 hours" is not "after 24 hours"
        if self.kind == "duration" and single and not math.isclose(other.low, other.high):
            # a single value where the evidence gives a range: only as the range's bound
            if self.bound == "max":
                return math.isclose(self.low, other.high)
            return self.bound == "min" and math.isclose(self.low, other.low)
        return same


def normalise(text: str) -> str:
    """Lower case with typographic apostrophes made plain."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


def tokens(sentence: str) -> list[Token]:
    """Tokens of ``sentence`` (lower-cased), citations such as ``[1]`` or ``[1, 2]`` left out."""
    out: list[Token] = []
    citation: list[Token] = []
    for m in _TOKEN.finditer(normalise(sentence)):
        text = m.group()
        kind = (
            "number" if text[0].isdigit() else "word" if text[0].isalpha()
            else "symbol" if text in _CURRENCIES or text == "%" else "punct"
        )  # fmt: skip
        tok = Token(text, kind, m.start(), m.end())
        if citation:  # inside "[...": a citation holds only numbers and commas
            citation.append(tok)
            if text == "]":
                citation = []
            elif kind != "number" and text != ",":
                out.extend(citation)
                citation = []
        elif text == "[":
            citation = [tok]
        else:
            out.append(tok)
    out.extend(citation)
    return out


def stem(word: str) -> str:
    """A crude stem of a content word ("cancelled" -> "cancel"); "" for function words."""
    w = word.split("'")[0]
    if w in STOPWORDS or w in _EXTRA_STOP or len(w) < 2 or not w.isalpha():
        return ""
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("sses", "ss")):
        if w.endswith(suffix):
            return w[: -len(suffix)] + repl
    for suffix in ("ing", "ed"):
        if w.endswith(suffix):
            base = w[: -len(suffix)]
            if len(base) < 3:
                return "use" if w == "used" else w
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiouls":
                base = base[:-1]  # "stopped" -> "stop"
            if base.endswith("ll") and len(base) > 5:
                base = base[:-1]  # "cancelled" -> "cancel"
            return base
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        w = w[:-1]
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]  # "charge" and "charged" -> "charg"
    return w


def _value(toks: list[Token], i: int, evidence: bool) -> float | None:
    if i >= len(toks):
        return None
    tok = toks[i]
    if tok.kind == "number":
        if ":" in tok.text:
            hours, _, minutes = tok.text.partition(":")
            return float(hours) * 60 + float(minutes.split(":")[0])
        try:
            return float(tok.text.replace(",", ""))
        except ValueError:  # "1.2.3": not one number
            return None
    value = WORD_NUMBERS.get(tok.text)
    if value == 1 and not evidence and _unit(toks, i + 1)[0] != "duration":
        return None  # "the new one" is not a number (but the evidence's "one payment" is 1)
    return None if value is None else float(value)


def _unit(toks: list[Token], k: int) -> tuple[str, str, float, int]:
    """(kind, unit, factor, next index) of the unit at ``k``, if any."""
    first = k
    if k < len(toks) and toks[k].text == "-":
        k += 1
    text = toks[k].text if k < len(toks) else ""
    if text in ("%", "percent"):
        return "amount", "%", 1.0, k + 1
    if text in _CURRENCIES:
        return "amount", _CURRENCIES[text], 1.0, k + 1
    at = k
    if text in ("working", "business", "calendar") and k + 1 < len(toks):
        at, text = k + 1, toks[k + 1].text
    singular = text[:-1] if text.endswith("s") else text
    if singular in _MINUTES:
        return "duration", "min", _MINUTES[singular], at + 1
    return "number", "", 1.0, first


def _bound(toks: list[Token], start: int) -> str:
    before = [t.text for t in toks[max(0, start - 3) : start]]
    if before[-2:] == ["up", "to"] or (before and before[-1] in _MAX_BEFORE):
        return "max"
    if before[-2:] == ["more", "than"]:
        return "max" if before[-3:-2] == ["no"] else "min"
    return "min" if before and before[-1] in _MIN_BEFORE else ""


def zero_cost(toks: list[Token], i: int) -> bool:
    """Whether the token at ``i`` says something costs nothing: "free", "no (extra) fee",
    "without a charge", "doesn't charge", "haven't been charged", "cost nothing"."""
    text = toks[i].text
    if text == "free":
        return i == 0 or toks[i - 1].text != "feel"
    if text == "nothing":
        return i > 0 and toks[i - 1].text in _COST
    after: list[str] = []
    for t in toks[i + 1 : i + 4]:  # the next words, up to a punctuation mark
        if t.kind == "punct":
            break
        after.append(t.text)
    if text in ("no", "without", "not", "never") or text.endswith("n't"):
        return bool(_COST & set(after))
    return False


def number_term(text: str) -> str:
    """A number as a comparable word: "1,000" -> "1000", "five" -> "5"."""
    if text in WORD_NUMBERS:
        return str(WORD_NUMBERS[text])
    return text.replace(",", "")


def quantities(toks: list[Token], evidence: bool = False) -> list[Quantity]:
    """Amounts, durations, times and plain numbers in ``toks`` (words for small numbers count;
    "one" only before a unit unless ``evidence``)."""
    out: list[Quantity] = []
    i, n = 0, len(toks)
    while i < n:
        start, currency = i, ""
        if toks[i].kind == "symbol" and toks[i].text != "%":
            currency, i = _CURRENCIES[toks[i].text], i + 1
        low = _value(toks, i, evidence)
        if low is None:
            if not currency and toks[i].kind == "word" and zero_cost(toks, i):
                out.append(Quantity("amount", "ZERO", 0.0, 0.0, "", "free", at=i))
            i += 1
            continue
        if ":" in toks[i].text:
            out.append(Quantity("time", "", low, low, "", toks[i].text, at=start))
            i += 1
            continue
        high, j = low, i + 1
        if j < n and toks[j].text in _RANGE and (toks[j].text != "and" or "between" in [
            t.text for t in toks[max(0, start - 2) : start]
        ]):  # fmt: skip
            k = j + 1
            if k < n and toks[k].kind == "symbol" and toks[k].text != "%":
                k += 1  # "€10 to €1,000"
            top = _value(toks, k, evidence)
            if top is not None and ":" not in toks[k].text:
                high, j = top, k + 1
        kind, unit, factor, j = _unit(toks, j)
        if currency:
            kind, unit, factor = "amount", currency, 1.0
        text = normalise_span(toks, start, j)
        bound = _bound(toks, start)
        out.append(Quantity(kind, unit, low * factor, high * factor, bound, text, at=start))
        i = max(j, i + 1)
    return out


def normalise_span(toks: list[Token], start: int, end: int) -> str:
    """The tokens ``start`` to ``end`` (exclusive) joined as they were written (roughly)."""
    parts: list[str] = []
    for t in toks[start:end]:
        glue = not parts or (t.kind == "symbol" and t.text == "%") or t.text in "-\u2013"
        glue = glue or (parts[-1].strip() in _CURRENCIES or parts[-1] in "-\u2013")
        parts.append(t.text if glue else " " + t.text)
    return "".join(parts)
