"""Password hashing and tokens."""

from __future__ import annotations

import jwt
import pytest

from backend.core.errors import Unauthorized
from backend.core.security import (
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)

pytestmark = pytest.mark.unit
SECRET = "k" * 40


def test_password_hash_roundtrip() -> None:
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$argon2")
    assert verify_password("s3cret-pass", hashed)
    assert not verify_password("wrong", hashed)
    assert not verify_password("x", "not-a-hash")


def test_token_roundtrip() -> None:
    token, exp = create_access_token(user_id=7, token_version=2, secret=SECRET, minutes=5)
    claims = decode_access_token(token, secret=SECRET)
    assert (claims.user_id, claims.token_version) == (7, 2)
    assert abs((claims.expires_at - exp).total_seconds()) < 1


def test_expired_token() -> None:
    token, _ = create_access_token(user_id=1, token_version=0, secret=SECRET, minutes=-1)
    with pytest.raises(Unauthorized) as info:
        decode_access_token(token, secret=SECRET)
    assert info.value.code == "token_expired"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        jwt.encode(
            {"sub": "1", "exp": 9999999999, "typ": "access"}, "other" * 10, algorithm="HS256"
        ),
        jwt.encode({"sub": "1", "exp": 9999999999, "typ": "refresh"}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "1", "exp": 9999999999, "typ": "access"}, "", algorithm="none"),
    ],
)
def test_forged_tokens(token: str) -> None:
    with pytest.raises(Unauthorized):
        decode_access_token(token, secret=SECRET)
