"""API keys (keyword-only; the only place that commits them).

A key is ``dp-`` followed by 43 random URL-safe characters. Only its sha256 is stored: a key is
found by the hash of what the caller sent, so checking one never compares secrets byte by byte
in Python and a database leak does not reveal usable keys.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from backend.core.db import utcnow
from backend.core.errors import InvalidInput, NotFound
from backend.openai_api.models import KEY_PREFIX, ApiKey, ApiKeyCreate, ApiKeyCreated

PREFIX_CHARS = 10  # "dp-" and 7 random characters: enough to tell keys apart in a list
MAX_KEY_CHARS = 200  # anything longer is not one of ours; refuse it before hashing
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key


def hash_key(key: str) -> str:
    """The sha256 hex digest stored for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (``dp-`` + 32 random bytes, URL-safe base64)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_api_key(*, session: Session, product_id: int, data: ApiKeyCreate) -> ApiKeyCreated:
    """Create a key for the product; the returned object is the only place the key appears."""
    name = data.name.strip()
    if not name:
        raise InvalidInput("name: an API key needs a name")
    key = new_key()
    api_key = ApiKey(
        product_id=product_id,
        name=name,
        prefix=key[:PREFIX_CHARS],
        key_hash=hash_key(key),
    )
    session.add(api_key)
    session.commit()
    session.refresh(api_key)
    return ApiKeyCreated(**api_key.model_dump(exclude={"key_hash"}), key=key)


def list_api_keys(*, session: Session, product_id: int) -> list[ApiKey]:
    """The product's keys, revoked ones included, newest first."""
    return list(
        session.exec(
            select(ApiKey).where(ApiKey.product_id == product_id).order_by(col(ApiKey.id).desc())
        ).all()
    )


def get_api_key(*, session: Session, api_key_id: int, product_id: int | None = None) -> ApiKey:
    """The key, or NotFound (also when ``product_id`` is given and the key is another's)."""
    api_key = session.get(ApiKey, api_key_id)
    if api_key is None or (product_id is not None and api_key.product_id != product_id):
        raise NotFound(f"API key {api_key_id} not found")
    return api_key


def revoke_api_key(*, session: Session, api_key: ApiKey) -> ApiKey:
    """Revoke the key: it stops working at once. Revoking a revoked key changes nothing."""
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        session.add(api_key)
        session.commit()
        session.refresh(api_key)
    return api_key


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back without a timezone; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def authenticate(*, session: Session, key: str) -> ApiKey | None:
    """The active key matching ``key``, or None (unknown, malformed or revoked).

    Records the use in ``last_used_at``, at most once a minute per key so a busy client does not
    turn every request into a write.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_CHARS:
        return None
    api_key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if api_key is None or api_key.revoked_at is not None:
        return None
    now = utcnow()
    if api_key.last_used_at is None or now - _aware(api_key.last_used_at) >= TOUCH_EVERY:
        api_key.last_used_at = now
        session.add(api_key)
        session.commit()
        session.refresh(api_key)
    return api_key
