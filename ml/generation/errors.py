"""One exception hierarchy for everything that can go wrong while talking to the LLM server.

``retryable`` tells the client (and callers) whether trying the same request again may succeed.
Messages are short and carry no prompt text: they end up in traces and logs.
"""

from __future__ import annotations

import json
from typing import Any


class GeneratorError(Exception):
    """Base class of generation failures; ``retryable`` says whether a retry may help."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class GeneratorUnavailable(GeneratorError):
    """The server cannot be reached, refused the connection, answered 502-504 or hung up."""

    retryable = True


class GeneratorTimeout(GeneratorError):
    """Connecting took too long, or the stream stalled between chunks longer than allowed.

    Retryable only before the first token (the client never retries after it anyway).
    """

    retryable = True


class GeneratorProtocolError(GeneratorError):
    """The server sent something that is not a valid OpenAI chat-completion stream."""

    retryable = False


class GeneratorHTTPError(GeneratorError):
    """The server answered a non-2xx status (other than 502-504) or sent an error object.

    ``status`` is the HTTP status (or the error object's code when it is an int); retryable for 429
    and 5xx only.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        retryable = status is not None and (status == 429 or 500 <= status <= 599)
        super().__init__(message, retryable=retryable)
        self.status = status


def error_message(obj: Any) -> str:
    """The message of OpenAI (``{"error": {"message"}}``) or older vLLM (``{"message"}``) errors."""
    if isinstance(obj, dict):
        inner = obj.get("error", obj)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or inner)
        return str(inner)
    return str(obj)


def error_for_status(status: int, body: bytes) -> GeneratorError:
    """The error for a non-2xx answer: ``GeneratorUnavailable`` for 502-504, else HTTP error."""
    if status in (502, 503, 504):
        return GeneratorUnavailable(f"LLM server answered {status}")
    try:
        message = error_message(json.loads(body))
    except ValueError:
        message = body.decode("utf-8", "replace").strip()
    return GeneratorHTTPError(f"LLM server answered {status}: {message[:200]}", status=status)
