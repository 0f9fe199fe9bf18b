"""The visitor's language, before the English-only models see the message.

The intent gate and the embedder are English: a message in another language would be matched to
an English FAQ entry by guesswork. :func:`check_language` says which language a message is in and
whether the assistant can answer it (``SUPPORTED``); an unsupported one gets the fallback, or the
handoff when :func:`asks_for_person` says the visitor wants a person, worded by
:func:`unsupported_language_reply` in the visitor's language where the widget has one (en, zh).

Declaring a message unsupported needs strong evidence, because a wrong call turns a question the
FAQ answers into a refusal. Letters in a non-Latin script (CJK, Cyrillic, Arabic, ...) outweighing
the Latin ones are decisive. Latin-script text is judged by py3langid (a naive Bayes byte n-gram
model shipped in its wheel, 140 languages, no download) and declared foreign only with enough
words, a high detector probability, and few English function words, so "hi", "card?", "top up",
"wtf is this fee" and typo-ridden questions stay English. Text with too little evidence either way
is ``und`` and is answered as usual.

The text is untrusted and the work is CPU-bound (call it off the event loop): only the first
``MAX_CHARS`` characters are read, words come from one linear regex, and the rest is set lookups.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

SUPPORTED = frozenset({"en"})  # languages the assistant answers in
MAX_CHARS = 500
# Latin-script text is foreign only with enough words, few English function words and a high
# detector probability: 0.85 without any English function word, 0.98 with some. Chosen on
# BANKING77 and CLINC150 train (25,003 English texts): no English text there has more than 0.71
# without an English function word, or 0.92 with one.
MIN_WORDS = 3
MIN_PROBABILITY = 0.85
MIN_PROBABILITY_MIXED = 0.98
MAX_ENGLISH_SHARE = 0.25  # of the words
CJK_WEIGHT = 2  # a Han, kana or Hangul character carries about as much as two Latin letters

_WORD = re.compile(r"[^\W\d_]+")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# English-like labels of the detector: Nigerian Pidgin is what it calls terse English
_ENGLISH_LIKE = _set("en pcm")
_CHINESE = _set("zh yue wuu")
_RELATIVES = [
    _set(group)
    for group in (
        "es an ext gl ca oc pt", "it vec lij", "fr wa", "nl af fy lb", "de lb", "id ms jv",
        "da no nn sv", "hr bs sr sl", "cs sk", "tl bcl",
    )
]  # fmt: skip
# English words that are not also common words of the Latin-script languages visitors write in
# (no "a", "i", "do", "me", "am", "was", "will", "in", "is", "to", "of", "for", "my")
_ENGLISH_FUNCTION = _set(
    "the you your yours what why how when where which who whom does did can cannot could would "
    "should it its this that these those have has had get got and or but with from there their "
    "they them are be been being don doesn didn isn aren not need want please just about into out"
)
# script, its language when the detector names none written in it, its code point ranges (hex)
_SCRIPTS = (
    "latin en 41-24f 1e00-1eff 2c60-2c7f a720-a7ff ff21-ff5a; greek el 370-3ff 1f00-1fff; "
    "cyrillic ru 400-52f; armenian hy 530-58f; hebrew he 590-5ff; "
    "arabic ar 600-6ff 750-77f 8a0-8ff fb50-fdff fe70-feff; devanagari hi 900-97f; "
    "bengali bn 980-9ff; gurmukhi pa a00-a7f; gujarati gu a80-aff; oriya or b00-b7f; "
    "tamil ta b80-bff; telugu te c00-c7f; kannada kn c80-cff; malayalam ml d00-d7f; "
    "sinhala si d80-dff; thai th e00-e7f; lao lo e80-eff; tibetan dz f00-fff; "
    "myanmar my 1000-109f; georgian ka 10a0-10ff; hangul ko 1100-11ff 3130-318f ac00-d7af; "
    "ethiopic am 1200-139f; khmer km 1780-17ff; kana ja 3040-30ff 31f0-31ff ff66-ff9f; "
    "han zh 3400-4dbf 4e00-9fff f900-faff 20000-3ffff"
)
_RANGES: list[tuple[int, int, str]] = []
_SCRIPT_LANGUAGE: dict[str, str] = {}
for _line in _SCRIPTS.split(";"):
    _script, _SCRIPT_LANGUAGE[_script], *_spans = _line.split()
    for _span in _spans:
        _first, _last = (int(x, 16) for x in _span.split("-"))
        _RANGES.append((_first, _last, _script))
_RANGES.sort()
_STARTS = [r[0] for r in _RANGES]
_CJK = _set("han kana hangul")
# the detector's languages per script shared by several
_SCRIPT_CHOICES = {
    "cyrillic": _set("ru uk be bg mk sr kk ky tg tt ba mn"),
    "arabic": _set("ar ary arz fa ur ps ku sdh ug"),
    "devanagari": _set("hi mr ne sa gom"),
    "bengali": _set("bn as"),
}


@dataclass(frozen=True)
class LanguageCheck:
    """What :func:`check_language` found. ``language`` is an ISO 639-1 code (639-3 where the
    language has none), ``und`` when there is too little to tell; ``confidence`` is the evidence
    for it (the detector's probability, or the share of letters in a decisive script; 0 for
    ``und``); ``supported`` says whether the assistant answers as usual; ``script`` is the main
    script of the letters (None without letters)."""

    language: str
    confidence: float
    supported: bool
    script: str | None

    def trace(self) -> dict[str, Any]:
        """The check as stored in the message trace."""
        return {
            "language": self.language,
            "confidence": round(self.confidence, 3),
            "supported": self.supported,
            "script": self.script,
        }


_detector: Any = None
_detector_lock = threading.Lock()


def warm_up() -> None:
    """Load the detector's model (about 0.5 s, once per process); check_language calls it."""
    global _detector
    if _detector is not None:
        return
    with _detector_lock:
        if _detector is None:
            from py3langid.langid import (  # type: ignore[import-untyped]
                MODEL_FILE,
                LanguageIdentifier,
            )

            _detector = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _ranked(text: str) -> list[tuple[str, float]]:
    warm_up()
    return list(_detector.rank(text))


def _script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        i = bisect.bisect_right(_STARTS, ord(ch)) - 1
        script = _RANGES[i][2] if i >= 0 and ord(ch) <= _RANGES[i][1] else "other"
        counts[script] = counts.get(script, 0) + 1
    return counts


def _unsure(script: str | None) -> LanguageCheck:
    return LanguageCheck("und", 0.0, True, script)


def _non_latin(text: str, counts: dict[str, int], weighted: dict[str, int]) -> LanguageCheck:
    cjk = sum(weighted.get(s, 0) for s in _CJK)
    others = {s: n for s, n in weighted.items() if s not in _CJK and s != "latin"}
    main = max(others, key=others.__getitem__) if others else None
    if main is None or cjk >= others[main]:
        # Japanese mixes kana into Han; Korean is Hangul
        if counts.get("hangul", 0) >= counts.get("kana", 0) + counts.get("han", 0):
            script = "hangul"
        else:
            script = "kana" if counts.get("kana", 0) else "han"
        share = cjk / sum(weighted.values())
        return LanguageCheck(_SCRIPT_LANGUAGE[script], share, False, script)
    share = weighted[main] / sum(weighted.values())
    language = _SCRIPT_LANGUAGE.get(main, "und")
    choices = _SCRIPT_CHOICES.get(main)
    if choices:
        # short texts spread over the script's languages ("Привет": ru, mk, sr, bg at 0.2 each)
        best, p = next(((lang, p) for lang, p in _ranked(text.lower()) if lang in choices))
        if p >= 0.5:
            language = {"ary": "ar", "arz": "ar"}.get(best, best)
    return LanguageCheck(language, share, False, main)


def check_language(text: str) -> LanguageCheck:
    """The language of a visitor message and whether the assistant answers it (CPU work: run it
    off the event loop). Reads at most the first ``MAX_CHARS`` characters."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS])
    counts = _script_counts(text)
    if not counts:
        return _unsure(None)
    weighted = {s: n * (CJK_WEIGHT if s in _CJK else 1) for s, n in counts.items()}
    latin = weighted.get("latin", 0)
    if sum(weighted.values()) - latin > latin:
        return _non_latin(text, counts, weighted)
    script = "latin"
    ranked = _ranked(text)
    top = ranked[0][0]
    if top in _ENGLISH_LIKE:
        return LanguageCheck(
            "en", sum(p for lang, p in ranked if lang in _ENGLISH_LIKE), True, script
        )
    # the mass of the top language and its close relatives: Spanish spreads over es, an, gl, ext
    relatives = next((group for group in _RELATIVES if top in group), frozenset({top}))
    mass = sum(p for lang, p in ranked if lang in relatives)
    words = _WORD.findall(text)
    english = sum(w.lower() in _ENGLISH_FUNCTION or w == "I" for w in words)
    needed = MIN_PROBABILITY if english == 0 else MIN_PROBABILITY_MIXED
    if (
        len(words) >= MIN_WORDS
        and english <= MAX_ENGLISH_SHARE * len(words)
        and mass >= needed
        and top != "zxx"
    ):
        language = "zh" if top in _CHINESE else top
        return LanguageCheck(language, mass, language in SUPPORTED, script)
    return _unsure(script)


# Asking for a person (or complaining, which the policy also hands over), per language. Latin-script
# entries are whole words or word sequences of the accent-folded text; the others are substrings
# (no spaces in CJK, inflected stems in Cyrillic and Arabic).
_PERSON_LATIN = {
    "es": "persona humano humana agente operador operadora asesor asesora representante|"
    "hablar con alguien|queja|reclamacion",
    "fr": "humain humaine conseiller conseillere agent operateur operatrice|une personne|"
    "une vraie personne|quelqu un|service client|plainte|reclamation",
    "de": "mitarbeiter mitarbeiterin mensch menschen berater beraterin kundendienst "
    "kundenservice ansprechpartner|echten person|einer person|mit jemandem|beschwerde",
    "pt": "atendente humano humana agente operador operadora|uma pessoa|alguem|reclamacao",
    "it": "operatore operatrice umano umana agente consulente|una persona|qualcuno|reclamo",
    "nl": "medewerker mens persoon|iemand|klacht",
    "tr": "temsilci yetkili insan operator|canlı destek|şikayet",  # noqa: RUF001
    "pl": "konsultant konsultanta konsultantem pracownik pracownikiem|skarga",
}
_PERSON_OTHER = {
    "zh": "人工 真人 客服 坐席 接线员 工作人员 服务人员 客户经理 投诉 投訴",
    "ja": "オペレーター 担当者 人間 有人 スタッフ 係の人 人と話 苦情",
    "ko": "상담원 상담사 직원 사람 담당자 불만",
    "ru": "оператор человек сотрудник менеджер консультант специалист жалоб",
    "uk": "оператор людин співробітник менеджер консультант скарг",
    "ar": "موظف شخص إنسان انسان ممثل شكوى",
}
_PERSON_ANY = "agent human operator"  # English words visitors mix into any language
# "AI" and "smart customer service" name the bot, not a person
_NOT_PERSON = ("人工智能", "人工智慧", "智能客服", "智慧客服")


def _phrases(spec: str) -> frozenset[str]:
    words, *phrases = spec.split("|")
    return frozenset(words.split()) | frozenset(phrases)


_LATIN_LEXICON = {lang: _phrases(spec) for lang, spec in _PERSON_LATIN.items()}
_OTHER_LEXICON = {lang: tuple(spec.split()) for lang, spec in _PERSON_OTHER.items()}
_ANY_LEXICON = frozenset(_PERSON_ANY.split())


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def asks_for_person(text: str, language: str) -> bool:
    """Whether a message in ``language`` asks for a person (or complains): an unsupported
    language then gets the handoff instead of the fallback. English uses the retrieval-only rules
    (``backend/answers/rules.py``); other languages a small lexicon each. Reads at most the first
    ``MAX_CHARS`` characters."""
    text = text[:MAX_CHARS]
    if language in SUPPORTED:
        from backend.answers.rules import match

        found = match(text)
        return found is not None and found.intent in {"human_agent", "complaint"}
    lowered = unicodedata.normalize("NFC", text).casefold()
    for phrase in _NOT_PERSON:
        lowered = lowered.replace(phrase, " ")
    if any(term in lowered for term in _OTHER_LEXICON.get(language, ())):
        return True
    joined = " " + " ".join(_WORD.findall(_fold(text))) + " "
    lexicon = _LATIN_LEXICON.get(language, frozenset()) | _ANY_LEXICON
    return any(f" {_fold(term)} " in joined for term in lexicon)


# the widget's zh strings call a person 人工客服 ("talk to a person": 转人工客服)
_ZH_REPLY = {
    True: "抱歉，{who}目前只能用英文回答。"  # noqa: RUF001
    "正在为您转接人工客服，客服人员会尽快在这里回复您。",  # noqa: RUF001
    False: "抱歉，{who}目前只能用英文回答。"  # noqa: RUF001
    "请用英文提问；如需人工客服帮助，请回复“转人工”。",  # noqa: RUF001
}


def unsupported_language_reply(language: str, *, handoff: bool, product_name: str) -> str:
    """The reply to a message in a language the assistant does not answer: in Chinese for zh, in
    English otherwise (the widget's languages). It says the assistant answers in English only and
    that a person can help, or with ``handoff`` that a person will reply."""
    name = product_name.strip()
    if language in _CHINESE:
        return _ZH_REPLY[handoff].format(who=f"{name} 助手" if name else "助手")
    who = f"the {name} assistant" if name else "the assistant"
    first = f"Sorry, {who} can only answer in English."
    if handoff:
        return f"{first} I'm passing you to a member of our team, who will reply here soon."
    return (
        f"{first} Please write your question in English, or ask for a person and a member of "
        "our team will help you."
    )
