"""What the OpenAPI document says beyond the models: typed ids and the non-JSON responses.

Every id in a path is a positive 32-bit integer. Ids are PostgreSQL ``integer`` columns: a larger
number names nothing, and it must not reach the database, which raises on it (a 500) instead of
finding nothing. Declared in every route's signature, the ids also appear in the document, with
their type and range, for the clients generated from it (the console's among them).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

MAX_ID = 2**31 - 1

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
ProductId = Annotated[int, Path(ge=1, le=MAX_ID, description="The product's id.")]

# One Server-Sent Event as clients parse it (``data`` holds JSON text, except comments).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def is_id(value: int) -> bool:
    """True when ``value`` can be a row's id (for checks that run before route validation)."""
    return 1 <= value <= MAX_ID


def file_response(
    description: str, *media_types: str, binary: bool = False
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a 200 whose body is a file (text, or ``binary``) of these types."""
    schema = {"type": "string", "format": "binary"} if binary else {"type": "string"}
    content = {media: {"schema": schema} for media in media_types}
    return {200: {"description": description, "content": content}}


def stream_response(description: str, *, json_too: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a 200 that is a ``text/event-stream`` (or, ``json_too``, one JSON
    document instead, as with ``?stream=false``)."""
    content: dict[str, Any] = {"text/event-stream": {"schema": SSE_EVENT}}
    if json_too:
        content["application/json"] = {"schema": {"type": "object"}}
    return {200: {"description": description, "content": content}}
