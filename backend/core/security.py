"""Password hashing (argon2) and signed, expiring access tokens (JWT, HS256)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from backend.core.errors import Unauthorized

_hasher = PasswordHasher()
ALGORITHM = "HS256"
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches ``hashed``; never raises on a bad hash."""
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password for generated accounts."""
    return secrets.token_urlsafe(15)


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    token_version: int
    expires_at: datetime


def create_access_token(
    *, user_id: int, token_version: int, secret: str, minutes: int
) -> tuple[str, datetime]:
    """Sign a token for ``user_id``; returns it with its expiry."""
    now = datetime.now(UTC)
    exp = now + timedelta(minutes=minutes)
    payload = {"sub": str(user_id), "tv": token_version, "iat": now, "exp": exp, "typ": "access"}
    return jwt.encode(payload, secret, algorithm=ALGORITHM), exp


def decode_access_token(token: str, *, secret: str) -> TokenClaims:
    """Verify signature and expiry; raise Unauthorized with a precise message otherwise."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired; log in again", code="token_expired") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid token", code="invalid_token") from None
    if payload.get("typ") != "access":
        raise Unauthorized("invalid token", code="invalid_token")
    try:
        user_id = int(payload["sub"])
        version = int(payload.get("tv", 0))
    except (TypeError, ValueError):
        raise Unauthorized("invalid token", code="invalid_token") from None
    return TokenClaims(user_id, version, datetime.fromtimestamp(payload["exp"], UTC))
