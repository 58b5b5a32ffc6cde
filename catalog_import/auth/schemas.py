"""Token request and response bodies (OAuth 2 client credentials)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenRequest(BaseModel):
    """Client credentials (OAuth 2), exchanged for a bearer token."""

    model_config = ConfigDict(extra="forbid")

    grant_type: Literal["client_credentials"]
    # Empty values are wrong credentials like any other (401), not a malformed request.
    client_id: str = Field(max_length=255)
    client_secret: str = Field(max_length=1024)


class TokenResponse(BaseModel):
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a token type, not a secret)
    access_token: str
    expires_in: int = Field(examples=[600])
