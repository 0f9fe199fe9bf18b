"""Widget API (``/api/v1/widget``, visitor tokens) and site-key admin routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from backend.api.deps import AdminAccess, SessionDep, SettingsDep
from backend.conversations import service as conversations
from backend.conversations.models import (
    Conversation,
    ConversationPublic,
    ConversationStatus,
    MessagePublic,
    public_message,
)
from backend.core.errors import Forbidden, InvalidInput, Unauthorized, error_responses
from backend.core.openapi import MAX_ID, Id, ProductId, stream_response
from backend.feedback import service as feedback
from backend.widget import events, service
from backend.widget.auth import (
    SITE_KEY_HEADER,
    VISITOR_HEADER,
    Visitor,
    VisitorDep,
    check_origin,
    decode_visitor_token,
    issue_visitor_token,
    visitor_from_token,
)
from backend.widget.limits import enforce_start_limits
from backend.widget.models import (
    ConversationStart,
    ConversationStarted,
    SiteKey,
    SiteKeyCreate,
    SiteKeyPublic,
    SiteKeyUpdate,
    VisitorIdentity,
    WidgetConfig,
)

router = APIRouter(prefix="/widget", tags=["widget"], responses=error_responses(400, 403, 422))
admin_router = APIRouter(
    prefix="/products/{product_id}",
    tags=["admin: widget"],
    responses=error_responses(400, 401, 403, 404, 422),
)
# The visitor's routes: a missing or expired visitor token is 401; another visitor's
# conversation is 404.
VISITOR_ERRORS = error_responses(401, 404)


# --- admin: site keys ----------------------------------------------------------------------------


@admin_router.post("/site-keys", response_model=SiteKeyPublic, status_code=201)
def create_site_key(
    product_id: ProductId, body: SiteKeyCreate, access: AdminAccess, session: SessionDep
) -> SiteKey:
    """Create a site key (its public id goes in the site's widget tag) for the given origins."""
    return service.create_site_key(session=session, product_id=access.product.id or 0, data=body)


@admin_router.get("/site-keys", response_model=list[SiteKeyPublic])
def list_site_keys(
    product_id: ProductId, access: AdminAccess, session: SessionDep
) -> list[SiteKey]:
    """The product's site keys, revoked ones included."""
    return service.list_site_keys(session=session, product_id=access.product.id or 0)


@admin_router.patch("/site-keys/{site_key_id}", response_model=SiteKeyPublic)
def update_site_key(
    product_id: ProductId,
    site_key_id: Id,
    body: SiteKeyUpdate,
    access: AdminAccess,
    session: SessionDep,
) -> SiteKey:
    """Change a site key's name, allowed origins, theme (merged field by field), language or
    rate limits (per minute; 0 turns a limit off). Absent fields keep their value."""
    key = service.get_site_key(
        session=session, product_id=access.product.id or 0, site_key_id=site_key_id
    )
    return service.update_site_key(session=session, site_key=key, data=body)


@admin_router.post("/site-keys/{site_key_id}/revoke", response_model=SiteKeyPublic)
def revoke_site_key(
    product_id: ProductId, site_key_id: Id, access: AdminAccess, session: SessionDep
) -> SiteKey:
    """Revoke a site key: its widget and every visitor token issued for it stop working."""
    key = service.get_site_key(
        session=session, product_id=access.product.id or 0, site_key_id=site_key_id
    )
    return service.revoke_site_key(session=session, site_key=key)


# --- visitor ---------------------------------------------------------------------------------


def _conversation(session: SessionDep, visitor: Visitor, conversation_id: int) -> Conversation:
    return conversations.get_visitor_conversation(
        session=session,
        conversation_id=conversation_id,
        product_id=visitor.product_id,
        visitor_id=visitor.visitor_id,
    )


def _active_key(request: Request, session: SessionDep, public_id: str) -> SiteKey:
    """The active key with this public id, allowing the request's Origin; else 403."""
    key = service.find_site_key(session=session, public_id=public_id)
    if key is None or not key.is_active:
        raise Forbidden("unknown or revoked site key", code="site_key_invalid")
    check_origin(key, request.headers.get("origin"))
    return key


@router.get("/config", response_model=WidgetConfig)
def get_config(
    request: Request,
    response: Response,
    session: SessionDep,
    site_key: Annotated[str, Query(max_length=64, description="The site key's public id.")],
) -> WidgetConfig:
    """The widget's settings for a site key: product name, language and theme (title filled in
    with the product's name unless set). 403 ``site_key_invalid`` for an unknown or revoked
    key, 403 ``origin_not_allowed`` for an Origin it does not allow. Cacheable for 60 s."""
    config = service.widget_config(
        session=session, site_key=_active_key(request, session, site_key)
    )
    response.headers["Cache-Control"] = "public, max-age=60"
    return config


@router.post(
    "/conversations",
    response_model=ConversationStarted,
    status_code=201,
    responses=error_responses(429),
)
def start_conversation(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    body: ConversationStart | None = None,
    site_key_header: Annotated[str | None, Header(alias=SITE_KEY_HEADER)] = None,
    visitor_token: Annotated[str | None, Header(alias=VISITOR_HEADER)] = None,
) -> ConversationStarted:
    """Start a conversation through a site key (body ``site_key`` or ``X-Deskpilot-Site-Key``).

    Returns the conversation and a visitor token for ``X-Deskpilot-Visitor``. A returning
    visitor who sends their (still valid) token for the same key keeps their identity, so they
    still see their earlier conversations. An unknown or revoked key is 403 ``site_key_invalid``;
    an ``Origin`` the key does not allow is 403 ``origin_not_allowed``.
    """
    public_id = (body.site_key if body else None) or site_key_header
    if not public_id:
        raise InvalidInput(f"send the site key as 'site_key' or in {SITE_KEY_HEADER}")
    key = _active_key(request, session, public_id)
    enforce_start_limits(request, key)
    visitor_id: str | None = None
    if visitor_token:
        try:
            claims = decode_visitor_token(
                visitor_token, secret=settings.secret_key.get_secret_value()
            )
            if claims.site_key_public_id == key.public_id:
                visitor_id = claims.visitor_id
        except Unauthorized:
            pass  # an expired or foreign token just means a new visitor
    token, visitor_id, expires_at = issue_visitor_token(
        settings=settings, site_key=key, visitor_id=visitor_id
    )
    conversation = conversations.create_conversation(
        session=session, product_id=key.product_id, visitor_id=visitor_id, site_key_id=key.id
    )
    return ConversationStarted(
        conversation=ConversationPublic.model_validate(conversation),
        visitor_token=token,
        visitor_token_expires_at=expires_at,
    )


@router.get(
    "/conversations", response_model=list[ConversationPublic], responses=error_responses(401)
)
def list_conversations(visitor: VisitorDep, session: SessionDep) -> list[Conversation]:
    """The visitor's own conversations, newest first (at most 20)."""
    return service.list_visitor_conversations(
        session=session, product_id=visitor.product_id, visitor_id=visitor.visitor_id
    )


@router.get(
    "/conversations/{conversation_id}", response_model=ConversationPublic, responses=VISITOR_ERRORS
)
def get_conversation(conversation_id: Id, visitor: VisitorDep, session: SessionDep) -> Conversation:
    """One of the visitor's conversations (another visitor's is 404)."""
    return _conversation(session, visitor, conversation_id)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=list[MessagePublic],
    responses=VISITOR_ERRORS,
)
def list_messages(
    conversation_id: Id,
    visitor: VisitorDep,
    session: SessionDep,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[MessagePublic]:
    """The conversation's messages, oldest first: the newest ``limit`` before ``before_id``
    (page backwards with the first id you got). Never includes the bot's traces."""
    _conversation(session, visitor, conversation_id)
    rows = conversations.list_messages(
        session=session, conversation_id=conversation_id, limit=limit, before_id=before_id
    )
    return feedback.attach(session=session, messages=[public_message(m) for m in rows])


@router.post(
    "/conversations/{conversation_id}/handoff",
    response_model=ConversationPublic,
    responses={**VISITOR_ERRORS, **error_responses(409)},
)
def request_handoff(
    conversation_id: Id, request: Request, visitor: VisitorDep, session: SessionDep
) -> Conversation:
    """Ask for a person: a bot conversation now waits for an agent (a system message and a
    status event are sent on the stream). Idempotent while waiting or with an agent; 409 when
    the conversation is closed."""
    conversation = _conversation(session, visitor, conversation_id)
    if service.request_handoff(session=session, conversation=conversation):
        request.app.state.events.publish(conversation_id)
    return conversation


@router.put(
    "/conversations/{conversation_id}/visitor",
    response_model=ConversationPublic,
    responses=VISITOR_ERRORS,
)
def identify_visitor(
    conversation_id: Id, body: VisitorIdentity, visitor: VisitorDep, session: SessionDep
) -> Conversation:
    """Tell who the visitor is (``deskpilot.identify``): ``{"name", "email"}``, each optional
    (null clears it); stored on the conversation for the agents."""
    conversation = _conversation(session, visitor, conversation_id)
    return service.set_visitor_identity(session=session, conversation=conversation, identity=body)


def get_stream_visitor(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    visitor_token: Annotated[
        str | None,
        Query(description="The visitor token, for EventSource clients that cannot set headers."),
    ] = None,
) -> Visitor:
    """The visitor of an event stream: ``X-Deskpilot-Visitor``, or ``?visitor_token=``."""
    token = request.headers.get(VISITOR_HEADER) or visitor_token
    return visitor_from_token(request, session, settings, token)


def _event_id(header: str | None, query: int | None) -> int:
    if header is None or not header.strip():
        return query or 0
    try:
        value = max(0, int(header))
    except ValueError:
        value = MAX_ID + 1
    if value > MAX_ID:  # never sent to the database (integer out of range)
        raise InvalidInput("Last-Event-ID must be an event id (an integer)")
    return value


@router.get(
    "/conversations/{conversation_id}/events",
    response_class=StreamingResponse,
    responses={
        **stream_response("The conversation's events"),
        204: {"description": "The conversation is closed and nothing is left to replay."},
        **VISITOR_ERRORS,
    },
)
def conversation_events(
    conversation_id: Id,
    request: Request,
    session: SessionDep,
    visitor: Annotated[Visitor, Depends(get_stream_visitor)],
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    """Live events of the conversation (Server-Sent Events): ``message`` and ``status``.

    Replays every event after ``Last-Event-ID`` (header, or ``?last_event_id=``; without it the
    whole conversation), then streams new ones as they happen; ``: ping`` every 15 s. Ends after
    the status event that closes the conversation; reconnecting to a closed conversation with
    nothing left to replay gets 204 (EventSource then stops reconnecting)."""
    conversation = _conversation(session, visitor, conversation_id)
    after_id = _event_id(last_event_id_header, last_event_id)
    closed = conversation.status == ConversationStatus.closed
    if closed and not conversations.events_after(
        session=session, conversation_id=conversation_id, after_id=after_id, limit=1
    ):
        return Response(status_code=204)
    session.close()  # release the connection: the stream reads with short sessions of its own
    return events.stream_response(request, conversation_id=conversation_id, after_id=after_id)
