"""A generated answer, grounded or silent: streamed sentence by sentence, each one shown only
once the retrieved passages support it.

The generator's text goes through the ``StreamGuard`` (links, citations, system-prompt leaks),
then a ``SentenceBuffer``; each completed sentence is checked by the ``GroundingChecker`` in a
worker thread and only then released as a ``Token``. An unsupported sentence is held (never
shown); a contradiction (a number, amount, duration, negation or yes/no the passages disagree
with) or a loop (``RepetitionDetector``) stops the generator at once, and so does an unsupported
sentence when ``max_unsupported_share`` is 0 (the verdict can no longer be "send"). At the end
:func:`judge` decides whether the released sentences are sent as the answer; the pipeline
replaces the answer otherwise. Everything goes into the message trace under ``generator`` and
``grounding``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, Protocol

import anyio
import numpy as np
from starlette.concurrency import run_in_threadpool

from backend.answers.llm import ChatClient
from backend.answers.models import AssistantSettingsBase
from ml.generation.claims import SentenceBuffer, claim_text
from ml.generation.client import Finished, TextDelta
from ml.generation.grounding_check import ClaimCheck, GroundingChecker, GroundingVerdict, judge
from ml.generation.guards import CheckedAnswer, StreamGuard
from ml.generation.prompt import Passage, Prompt, build_prompt
from ml.generation.repetition import RepetitionDetector
from ml.interfaces import ChatMessage, Vector

log = logging.getLogger(__name__)
Embed = Callable[[Sequence[str]], Vector]
# The trace's route when the generator ran but its text was not sent (a contradiction, too many
# unsupported claims, nothing to say, or a loop): the extractive answer or the fallback reply
# replaced it. ``meta`` (sent before the answer) still says ``llm``.
LLM_REPLACED = "llm_replaced"


class TextEmbedder(Protocol):
    """What the cache needs of an embedder (the knowledge runtime's query embedder)."""

    def embed(self, texts: Sequence[str]) -> Vector: ...


class EmbeddingCache:
    """The query embedder with a memory, as the grounding check's ``embed``: the same passages
    come back turn after turn (a FAQ entry answers many questions), so their sentences are
    embedded once per process instead of once per answer (about a second for five passages on
    one CPU thread, otherwise paid before the first sentence can be shown). Least recently used
    texts go first; thread-safe (checks run in worker threads)."""

    def __init__(self, embedder: TextEmbedder, size: int = 4096) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.embedder, self.size = embedder, size
        self._rows: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> Vector:
        """Rows for ``texts``, in order, embedding in one batch only those not seen lately."""
        found: dict[str, Vector] = {}
        with self._lock:
            for text in texts:
                row = self._rows.get(text)
                if row is not None:
                    self._rows.move_to_end(text)
                    found[text] = row
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = np.asarray(self.embedder.embed(missing), dtype=np.float32)
            with self._lock:
                for text, row in zip(missing, vectors, strict=True):
                    found[text] = self._rows[text] = row
                while len(self._rows) > self.size:
                    self._rows.popitem(last=False)
        if not texts:
            return np.asarray(self.embedder.embed(texts), dtype=np.float32)
        return np.stack([found[t] for t in texts])


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class GroundedStream:
    """One generated answer. Iterate :meth:`tokens` for the sentences that may be shown (it
    raises ``GeneratorError`` when the generator fails); then :attr:`send` says whether
    :attr:`visible` is the answer, and :attr:`checked` holds the guard's post-check."""

    def __init__(
        self,
        *,
        client: ChatClient,
        config: AssistantSettingsBase,
        penalties: dict[str, float | None],
        embed: Embed | None,
        passages: list[Passage],
        trace: dict[str, Any],
        latency: dict[str, float],
        started: float,
    ) -> None:
        self.client, self.config, self.penalties = client, config, penalties
        self.embed, self.passages = embed, passages
        self.trace, self.latency, self.started = trace, latency, started
        self.visible = ""  # what the visitor was shown (released sentences)
        self.claims: list[ClaimCheck] = []
        self.held: list[str] = []
        self.stopped: str | None = None  # "contradiction" | "unsupported" | "repetition"
        self.verdict: GroundingVerdict | None = None
        self.checked: CheckedAnswer | None = None
        self.repetition = RepetitionDetector()
        self.guard: StreamGuard | None = None
        self._gap = ""  # white space owed before the next released sentence
        self._check_ms: list[float] = []
        self._setup_ms: float | None = None
        self._checker: asyncio.Future[GroundingChecker] | None = None

    @property
    def send(self) -> bool:
        """Whether the released sentences are the answer (judged, no loop, not empty)."""
        return bool(
            self.verdict is not None
            and self.verdict.send
            and self.stopped != "repetition"
            and self.visible.strip()
        )

    @property
    def generated_text(self) -> str:
        """The generator's raw text so far."""
        return self.guard.text if self.guard is not None else ""

    def _prompt(self, question: str, history: list[ChatMessage], product_name: str) -> Prompt:
        return build_prompt(
            question=question,
            passages=self.passages,
            history=history,
            product_name=product_name,
            persona=self.config.persona or None,
            token_budget=self.config.prompt_token_budget,
        )

    def _build_checker(self, shown: list[Passage]) -> GroundingChecker:
        t = time.perf_counter()
        texts = [p.text for p in shown]  # the evidence is what the model was shown
        try:
            checker = GroundingChecker(texts, self.embed)
        except Exception as exc:  # the embedder failed: the lexical and fact checks still run
            log.exception("grounding check without the embedder")
            self.trace["grounding_embedder_error"] = f"{type(exc).__name__}: {exc}"[:300]
            checker = GroundingChecker(texts, None)
        self._setup_ms = _ms(t)
        return checker

    async def tokens(
        self, question: str, history: list[ChatMessage], product_name: str
    ) -> AsyncGenerator[str, None]:
        """The answer's text as it may be shown: whole checked sentences."""
        t = time.perf_counter()
        # the visitor's text and history go through regexes: never on the event loop
        prompt = await run_in_threadpool(self._prompt, question, history, product_name)
        self.latency["prompt"] = _ms(t)
        self.guard = guard = StreamGuard(
            system_prompt=prompt.system,
            allowed_urls=prompt.allowed_urls,
            n_passages=len(self.passages),
        )
        max_tokens = self.config.max_answer_tokens
        gen: dict[str, Any] = {
            "model": self.client.model,
            "prompt_version": prompt.version,
            "prompt_tokens_estimate": prompt.estimated_tokens,
            "history_used": prompt.history_used,
            # the exact messages sent: a turn can be replayed and audited from its trace
            "prompt": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "max_tokens": max_tokens,
            **self.penalties,
        }
        self.trace["generator"] = gen
        # the evidence is embedded while the generator works on its first token
        self._checker = asyncio.ensure_future(
            run_in_threadpool(self._build_checker, prompt.passages)
        )
        self._checker.add_done_callback(lambda f: f.cancelled() or f.exception())
        buffer = SentenceBuffer()
        t = time.perf_counter()
        stream = self.client.stream_events(
            prompt.messages,
            max_tokens=max_tokens,
            frequency_penalty=self.penalties.get("frequency_penalty"),
            repetition_penalty=self.penalties.get("repetition_penalty"),
        )
        try:
            async for event in stream:
                if isinstance(event, TextDelta):
                    self.latency.setdefault("first_token", _ms(self.started))
                    if self.repetition.feed(event.text):
                        self.stopped = "repetition"
                    for sentence in buffer.feed(guard.feed(event.text)):
                        if self.stopped is None and (shown := await self._hold(sentence)):
                            yield shown
                    if self.stopped is not None:
                        break  # closing the stream makes the server abort the request
                elif isinstance(event, Finished):
                    gen.update(
                        finish_reason=event.finish_reason,
                        prompt_tokens=event.prompt_tokens,
                        completion_tokens=event.completion_tokens,
                    )
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
            self.latency["generate"] = _ms(t)
            self.trace["grounding"] = self.grounding_trace()
        if self.stopped is None:
            if self.repetition.flush():
                self.stopped = "repetition"
            for sentence in [*buffer.feed(guard.flush()), buffer.flush()]:
                if self.stopped is None and (shown := await self._hold(sentence)):
                    yield shown
        self.checked = guard.finish()
        self.verdict = judge(self.claims, max_unsupported_share=self.config.max_unsupported_share)
        self.trace["grounding"] = self.grounding_trace()

    async def _hold(self, sentence: str) -> str:
        """Check one sentence; the text to show now ("" while it is held)."""
        claim = claim_text(sentence)
        if not claim:  # white space (or a bare bullet) between sentences
            self._gap += sentence if sentence.isspace() else ""
            return ""
        assert self._checker is not None
        checker = await self._checker
        t = time.perf_counter()
        check = await run_in_threadpool(checker.check, claim)
        self._check_ms.append(_ms(t))
        self.claims.append(check)
        if not check.supported:
            self.held.append(claim)
            if check.contradiction:
                self.stopped = "contradiction"
            elif self.config.max_unsupported_share <= 0.0:
                self.stopped = "unsupported"  # any unsupported claim means "not sent"
            return ""
        body = sentence.rstrip()
        shown = (self._gap + body) if self.visible else body.lstrip()
        self._gap = sentence[len(body) :]
        if shown:
            self.latency.setdefault("first_visible", _ms(self.started))
            self.visible += shown
        return shown

    def grounding_trace(self) -> dict[str, Any]:
        """The check's record: per-claim scores, the verdict, what was held, the generator's
        own text, why it stopped early, and what the checks cost."""
        verdict = self.verdict.trace() if self.verdict is not None else {"send": None}
        return {
            **verdict,
            "claims": [c.trace() for c in self.claims],
            "max_unsupported_share": self.config.max_unsupported_share,
            "held": list(self.held),
            "stopped": self.stopped,
            "generated_text": self.generated_text,
            "shown_text": self.visible,
            "repetition": self.repetition.trace(),
            "setup_ms": self._setup_ms,
            "check_ms": list(self._check_ms),
        }
