"""The bearer-token dependency: every protected route gets the calling integration's id from it."""

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from catalog_import.auth.tokens import TokenSigner
from catalog_import.errors import Unauthorized

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from POST /api/oauth/token")


def current_integration_id(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> uuid.UUID:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required")
    signer: TokenSigner = request.app.state.token_signer
    integration_id = signer.verify(credentials.credentials)
    if integration_id is None:
        raise Unauthorized("The access token is invalid or has expired")
    return integration_id


IntegrationId = Annotated[uuid.UUID, Depends(current_integration_id)]
