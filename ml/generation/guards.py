"""Deterministic prompt-injection defences and post-checks of generated answers.

Before: ``sanitize_passage``/``strip_control_markup`` remove what could forge the prompt's
structure (passage delimiters, chat-template role markers; one linear pass, see
``ml.generation.markup``). After: ``post_check`` blocks system-prompt leaks, removes links not
present in the passages and out-of-range citations.
``StreamGuard`` applies the same checks while tokens stream in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ml.generation.markup import strip_control_markup as strip_control_markup

SAFE_REFUSAL = "I can't share that. I can help with questions about our products and services."
LEAK_MIN_WORDS = 8

CITATION_RE = re.compile(r"\[\s*(\d{1,3}(?:\s*,\s*\d{1,3})*)\s*\]")
"""One citation bracket: ``[1]`` or ``[1, 2]``; ``[1][2]`` is two matches."""
# The blanks before a citation go with it (line breaks stay). It starts only where a run of
# blanks starts: from every blank of a long run, the search would rescan the run (O(n²)).
_CITATION_WS_RE = re.compile(r"(?<![ \t])([ \t]*)" + CITATION_RE.pattern)
_MD_LINK_RE = re.compile(r"\[([^\[\]\n]*)\]\(\s*<?(https?://[^\s()<>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_URL_RE = re.compile(r"https?://[^\s<>()\[\]\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\""


def sanitize_passage(text: str) -> str:
    """``strip_control_markup`` plus whitespace collapsed to single spaces (and stripped)."""
    return " ".join(strip_control_markup(text).split())


def normalise_url(url: str) -> str:
    """Comparable form of a URL: scheme and host lowercased, no fragment, no trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"


def find_urls(text: str) -> list[str]:
    """The http(s) URLs in ``text`` (trailing punctuation excluded), in order, distinct."""
    return list(dict.fromkeys(m.group(0).rstrip(_URL_TRAILING) for m in _URL_RE.finditer(text)))


def cited_numbers(answer: str, n_passages: int) -> list[int]:
    """Distinct passage numbers cited in ``answer`` (1..n only), in order of first appearance."""
    seen: list[int] = []
    for match in CITATION_RE.finditer(answer):
        for part in match.group(1).split(","):
            number = int(part)
            if 1 <= number <= n_passages and number not in seen:
                seen.append(number)
    return seen


@dataclass(frozen=True)
class CheckedAnswer:
    """An answer after ``post_check``: the text to show, what it cites and what was changed."""

    text: str
    cited: list[int]
    violations: list[str]
    grounded: bool


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def leaks_system_prompt(answer: str, system_prompt: str, min_words: int = LEAK_MIN_WORDS) -> bool:
    """True if ``answer`` repeats ``min_words`` consecutive words of ``system_prompt``.

    Compared after lowercasing and splitting on anything that is not a letter or digit.
    """
    secret = _ngrams(_words(system_prompt), min_words)
    return bool(secret) and not secret.isdisjoint(_ngrams(_words(answer), min_words))


def _filter(text: str, allowed: frozenset[str], n_passages: int) -> tuple[str, list[str]]:
    """Remove disallowed links and out-of-range citations; return the text and violations."""
    violations: list[str] = []

    def md_link(match: re.Match[str]) -> str:
        if normalise_url(match.group(2)) in allowed:
            return match.group(0)
        violations.append("disallowed_link")
        return match.group(1)

    def bare_url(match: re.Match[str]) -> str:
        url = match.group(0).rstrip(_URL_TRAILING)
        tail = match.group(0)[len(url) :]
        if normalise_url(url) in allowed:
            return match.group(0)
        violations.append("disallowed_link")
        return "[link removed]" + tail

    def citation(match: re.Match[str]) -> str:
        numbers = [int(p) for p in match.group(2).split(",")]
        kept = [n for n in numbers if 1 <= n <= n_passages]
        if len(kept) == len(numbers):
            return match.group(0)
        violations.append("invalid_citation")
        return f"{match.group(1)}[{', '.join(map(str, kept))}]" if kept else ""

    # Markdown links first (a disallowed one becomes its label), then bare URLs outside the
    # markdown links that were kept, then citations.
    text = _MD_LINK_RE.sub(md_link, text)
    out: list[str] = []
    last = 0
    for kept in _MD_LINK_RE.finditer(text):
        out.append(_URL_RE.sub(bare_url, text[last : kept.start()]))
        out.append(kept.group(0))
        last = kept.end()
    out.append(_URL_RE.sub(bare_url, text[last:]))
    text = _CITATION_WS_RE.sub(citation, "".join(out))
    return text, list(dict.fromkeys(violations))


def post_check(
    answer: str, *, system_prompt: str, allowed_urls: Sequence[str], n_passages: int
) -> CheckedAnswer:
    """Check a complete answer.

    A system-prompt leak replaces the whole text with ``SAFE_REFUSAL`` (``system_prompt_leak``);
    links whose URL is not in ``allowed_urls`` are removed (markdown link -> its label, bare URL ->
    ``[link removed]``; ``disallowed_link``); citations outside 1..n are removed
    (``invalid_citation``). ``grounded`` is true when at least one valid passage is cited.
    """
    if leaks_system_prompt(answer, system_prompt):
        return CheckedAnswer(SAFE_REFUSAL, [], ["system_prompt_leak"], False)
    allowed = frozenset(normalise_url(u) for u in allowed_urls)
    text, violations = _filter(answer, allowed, n_passages)
    cited = cited_numbers(text, n_passages)
    return CheckedAnswer(text, cited, violations, bool(cited))


# A citation or markdown link that may still be in progress at the end of the text: "[1",
# "[1, 2].", "[label", "[label](http://x", '[label](http://x "title")'; held with the blanks
# before it (found without a regex: a leading "\s*" would rescan long runs of blanks).
_HOLD_RE = re.compile(r"\[[^\[\]\n]{0,200}(?:\](?:\([^()\n]{0,400}(?:\)\S*)?)?\S*)?$")
_HOLD_WINDOW = 700


def _tail(text: str, start: int) -> tuple[int, str]:
    r"""The last word of ``text[start:]`` with the whitespace before it: where it starts, and
    its text (as ``re.search(r"\s*\S*$", text, start)`` finds them, without rescanning long
    runs of spaces or letters from each of their characters)."""
    end = len(text)
    if end > start and text[-1] == "\n":  # "$" also matches before a final line break
        before = _tail_start(text, start, end - 1)
        if before < _tail_start(text, start, end):
            return before, text[before : end - 1]
    begin = _tail_start(text, start, end)
    return begin, text[begin:end]


def _tail_start(text: str, start: int, end: int) -> int:
    segment = text[start:end]
    kept = segment.rstrip()
    if len(kept) == len(segment):  # ends with a word (or is empty): step back over it
        parts = kept.rsplit(None, 1)
        kept = kept[: len(kept) - len(parts[-1])].rstrip() if parts else ""
    return start + len(kept)


_SCHEME = "https://"


def may_become_link(word: str) -> bool:
    """Whether the last word so far could still grow into a URL or a link: it holds a bracket,
    a colon or a slash, contains ``http``, or ends with a beginning of ``https://``. Any other
    word is released at once, so the first token reaches the visitor without waiting for the
    next one."""
    w = word.strip().lower()
    if not w:
        return False
    if any(c in w for c in "[]()<>:/") or "http" in w:
        return True
    return any(w.endswith(_SCHEME[:k]) for k in range(1, len(_SCHEME)))


class StreamGuard:
    """Decides, token by token, which text is safe to send to the visitor now.

    Text is released a whole word at a time (the last, maybe partial, word is held); a citation
    or markdown link still in progress (``[1``, ``[1, 2].``, ``[label](http://...``) is held back
    until it is complete, then filtered like ``post_check`` does. Once the streamed text repeats
    the system prompt, nothing more is released. Use::

        for piece in pieces: send(guard.feed(piece))
        send(guard.flush())
        checked = guard.finish()
        if checked.text != guard.emitted: send_correction(checked.text)

    ``finish().text`` is authoritative: in a leak case it replaces what was streamed, so the caller
    must send it as a correction.
    """

    def __init__(self, *, system_prompt: str, allowed_urls: Sequence[str], n_passages: int) -> None:
        self._system_prompt = system_prompt
        self._allowed_urls = list(allowed_urls)
        self._allowed = frozenset(normalise_url(u) for u in allowed_urls)
        self._n = n_passages
        self._text = ""
        self._released = 0  # characters of the raw text already judged
        self._emitted: list[str] = []
        self._leaked = False

    @property
    def emitted(self) -> str:
        """Everything returned by ``feed`` and ``flush`` so far."""
        return "".join(self._emitted)

    @property
    def text(self) -> str:
        """The raw text received so far."""
        return self._text

    def _cut(self) -> int:
        """Where the held-back tail of the raw text starts (never before what was released)."""
        text, start = self._text, self._released
        tail_start, tail = _tail(text, start)
        # trailing whitespace waits too: a citation removed later takes its leading space along
        cut = tail_start if tail.isspace() or may_become_link(tail) else len(text)
        window = max(start, len(text) - _HOLD_WINDOW)
        hold = _HOLD_RE.search(text, window)
        if hold:
            blanks = text[window : hold.start()]
            cut = min(cut, window + len(blanks.rstrip()))
        return max(cut, start)

    def _release(self, end: int) -> str:
        segment = self._text[self._released : end]
        self._released = end
        if self._leaked or not segment:
            return ""
        if leaks_system_prompt(self._text[:end], self._system_prompt):
            self._leaked = True
            return ""
        out, _ = _filter(segment, self._allowed, self._n)
        self._emitted.append(out)
        return out

    def feed(self, piece: str) -> str:
        """Add a piece of the answer; return the text that can be sent now (maybe empty)."""
        self._text += piece
        return self._release(self._cut())

    def flush(self) -> str:
        """At the end of the stream: release the held-back tail (filtered)."""
        return self._release(len(self._text))

    def finish(self) -> CheckedAnswer:
        """``post_check`` of the whole answer (call after ``flush``)."""
        return post_check(
            self._text,
            system_prompt=self._system_prompt,
            allowed_urls=self._allowed_urls,
            n_passages=self._n,
        )
