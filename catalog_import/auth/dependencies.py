"""The bearer-token dependency: every protected route gets the calling integration's id from it, once
the token is verified and the request counted against the integration's rate limit."""

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from catalog_import.auth.tokens import TokenSigner
from catalog_import.errors import Unauthorized
from catalog_import.ratelimit import RateLimiter

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
    # For the request's access log line.
    request.state.integration_id = integration_id
    return integration_id


async def rate_limited_integration_id(
    request: Request, integration_id: Annotated[uuid.UUID, Depends(current_integration_id)]
) -> uuid.UUID:
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.check(integration_id.hex)
    return integration_id


def client_address(request: Request) -> str:
    """The address the request came from, as sign-in failures are counted by it."""
    return request.client.host if request.client else ""


IntegrationId = Annotated[uuid.UUID, Depends(rate_limited_integration_id)]
"""The calling integration, authenticated and within its request rate."""


def needs_integration(dependant: Dependant) -> bool:
    return any(
        dependency.call is current_integration_id or needs_integration(dependency)
        for dependency in dependant.dependencies
    )


async def authentication_error(request: Request) -> Unauthorized | None:
    """The 401 a protected route owes this request, if any. A body that is not JSON is rejected before the
    route's dependencies run; the error handler asks this first, so a missing token still answers 401."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if not isinstance(dependant, Dependant) or not needs_integration(dependant):
        return None
    try:
        current_integration_id(request, await bearer_scheme(request))
    except Unauthorized as exc:
        return exc
    return None
