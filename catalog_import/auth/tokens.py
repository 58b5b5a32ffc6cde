"""Signed, expiring access tokens (JWT, HS256) naming the integration they were issued to."""

import time
import uuid
from dataclasses import dataclass

import jwt

AUDIENCE = "catalog-import"


@dataclass(frozen=True)
class TokenSigner:
    key: str
    ttl_seconds: int

    def issue(self, integration_id: uuid.UUID) -> str:
        now = int(time.time())
        claims = {"sub": integration_id.hex, "aud": AUDIENCE, "iat": now, "exp": now + self.ttl_seconds}
        return jwt.encode(claims, self.key, algorithm="HS256")

    def verify(self, token: str) -> uuid.UUID | None:
        """The integration id of a valid, unexpired token; None otherwise."""
        try:
            claims = jwt.decode(
                token, self.key, algorithms=["HS256"], audience=AUDIENCE, options={"require": ["exp", "sub"]}
            )
            return uuid.UUID(claims["sub"])
        except (jwt.PyJWTError, ValueError):
            return None
