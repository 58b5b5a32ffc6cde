"""POST /api/oauth/token: client credentials in, a bearer token out (JSON or form-encoded body)."""

from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError

from catalog_import.auth import service
from catalog_import.auth.dependencies import client_address
from catalog_import.auth.schemas import TokenRequest, TokenResponse
from catalog_import.auth.tokens import TokenSigner
from catalog_import.db import Session
from catalog_import.errors import Unprocessable, validation_details
from catalog_import.schemas import ErrorResponse, json_body

router = APIRouter(prefix="/api/oauth", tags=["auth"])

REQUEST_MODELS = (TokenRequest,)
"""The body the token route reads itself, named as a component of the OpenAPI document. It is documented
as JSON, which every client generator handles; the same fields form-encoded
(``application/x-www-form-urlencoded``, as OAuth 2 clients send them) are accepted too."""


async def read_token_request(request: Request) -> TokenRequest:
    content_type = request.headers.get("content-type", "").lower()
    data: Any
    try:
        body = await request.body()
        if content_type.startswith("application/x-www-form-urlencoded"):
            # Parsed here rather than with request.form(), which needs the optional python-multipart.
            data = dict(parse_qsl(body.decode(), keep_blank_values=True))
        else:
            data = orjson.loads(body)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise Unprocessable("The body must be JSON or form-encoded") from exc
    try:
        return TokenRequest.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable(
            "The token request is not valid", details=validation_details(exc.errors())
        ) from exc


@router.post(
    "/token",
    operation_id="issue_token",
    response_model=TokenResponse,
    openapi_extra=json_body(
        TokenRequest,
        description="The client credentials, as JSON or form-encoded (application/x-www-form-urlencoded).",
    ),
    responses={
        401: {"model": ErrorResponse, "description": "INVALID_CLIENT"},
        422: {"model": ErrorResponse, "description": "INVALID_REQUEST"},
        429: {"model": ErrorResponse, "description": "RATE_LIMITED: too many wrong secrets for the client"},
    },
)
async def issue_token(request: Request, session: Session) -> TokenResponse:
    """Exchange an integration's client id and secret for a short-lived bearer token."""
    body = await read_token_request(request)
    integration = await service.authenticate(
        session,
        request.app.state.sign_in_failures,
        body.client_id,
        body.client_secret,
        client_address(request),
    )
    signer: TokenSigner = request.app.state.token_signer
    return TokenResponse(access_token=signer.issue(integration.id), expires_in=signer.ttl_seconds)
