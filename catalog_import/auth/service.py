"""Integrations and token issuing. Services never commit: the caller's boundary does."""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.auth.repository import IntegrationRepository
from catalog_import.auth.secrets import (
    DUMMY_HASH,
    generate_client_id,
    generate_secret,
    generate_webhook_secret,
    hash_secret,
    verify_secret,
)
from catalog_import.errors import ApiError
from catalog_import.ids import new_id
from catalog_import.models import Integration
from catalog_import.ratelimit import RateLimited, RateLimiter


class InvalidClient(ApiError):
    status_code = 401
    code = "INVALID_CLIENT"

    def __init__(self) -> None:
        super().__init__("Unknown client or wrong secret")


@dataclass(frozen=True)
class NewIntegration:
    """What is shown once when an integration is created."""

    integration: Integration
    client_secret: str

    @property
    def client_id(self) -> str:
        return self.integration.client_id

    @property
    def webhook_secret(self) -> str:
        return self.integration.webhook_secret


async def create_integration(
    session: AsyncSession, name: str, *, client_id: str | None = None, client_secret: str | None = None
) -> NewIntegration:
    secret = client_secret or generate_secret()
    integration = Integration(
        id=new_id(),
        name=name,
        client_id=client_id or generate_client_id(),
        secret_hash=hash_secret(secret),
        webhook_secret=generate_webhook_secret(),
    )
    await IntegrationRepository(session).add(integration)
    return NewIntegration(integration, secret)


async def ensure_bootstrap_integration(session: AsyncSession, client_id: str, client_secret: str) -> None:
    """Create the integration named by the bootstrap settings, or reset its secret when it changed."""
    repository = IntegrationRepository(session)
    await repository.lock_for_bootstrap()
    existing = await repository.by_client_id(client_id)
    if existing is None:
        await create_integration(session, "bootstrap", client_id=client_id, client_secret=client_secret)
    elif not verify_secret(client_secret, existing.secret_hash):
        existing.secret_hash = hash_secret(client_secret)


async def authenticate(
    session: AsyncSession, failures: RateLimiter, client_id: str, client_secret: str, source: str
) -> Integration:
    """The integration these credentials belong to, else ``InvalidClient`` (as slow for an unknown client
    id as for a wrong secret, and for an empty secret too). Wrong secrets are counted per client id and
    ``source`` (the caller's address): over ``failures``' limit every attempt, right or wrong, gets
    ``RateLimited`` until the window has passed, so secrets cannot be guessed at speed."""
    key = hashlib.sha256(f"{client_id}\x00{source}".encode()).hexdigest()
    wait = await failures.seconds_until_allowed(key)
    if wait is not None:
        raise RateLimited(wait, "Too many wrong secrets for this client")
    integration = None
    if "\x00" not in client_id:  # PostgreSQL text cannot hold NUL: no client has such an id
        integration = await IntegrationRepository(session).by_client_id(client_id)
    stored = integration.secret_hash if integration else DUMMY_HASH
    if not verify_secret(client_secret, stored) or integration is None:
        await failures.count(key)
        raise InvalidClient()
    return integration


async def token_signing_key(session: AsyncSession) -> str:
    """The signing key shared by every process of this deployment, generated on first use."""
    return await IntegrationRepository(session).server_key("token-signing", secrets.token_urlsafe(48))
