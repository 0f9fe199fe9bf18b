"""The OpenAI chat-completions request and response shapes deskpilot accepts and returns.

Only what a chat client needs: ``messages`` (the history; the last user message is answered),
``stream``, ``max_tokens``/``max_completion_tokens``, ``temperature`` (accepted, the product's
settings decide) and ``user`` (groups requests into one logged conversation). Answers carry an
extra ``deskpilot`` object: route, intent, confidence, sources, conversation and message ids.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ml.interfaces import ChatMessage


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class InMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined; other parts ignored)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text or "" for p in self.content if p.type == "text")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(default="deskpilot", max_length=200)
    messages: list[InMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    user: str | None = Field(default=None, max_length=200)

    @field_validator("messages")
    @classmethod
    def _last_is_user(cls, messages: list[InMessage]) -> list[InMessage]:
        if messages[-1].role != "user":
            raise ValueError("the last message must have role 'user' (the question to answer)")
        if not messages[-1].text().strip():
            raise ValueError("the last user message is empty")
        return messages

    def question(self) -> str:
        """The user message to answer."""
        return self.messages[-1].text()

    def history(self) -> list[ChatMessage]:
        """Earlier user and assistant turns (system messages are the product's business)."""
        return [
            ChatMessage(role=m.role, content=m.text())
            for m in self.messages[:-1]
            if m.role in ("user", "assistant") and m.text().strip()
        ]

    def token_limit(self) -> int | None:
        """The caller's cap on answer tokens, if any."""
        return self.max_completion_tokens or self.max_tokens


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def completion(
    *,
    cid: str,
    model: str,
    text: str,
    usage: dict[str, int],
    deskpilot: dict[str, Any],
) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` response."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage,
        "deskpilot": deskpilot,
    }


def chunk(
    *,
    cid: str,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    deskpilot: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of a streamed response."""
    body: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if deskpilot is not None:
        body["deskpilot"] = deskpilot
    return body
