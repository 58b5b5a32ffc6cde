"""The per-integration request rate limit: 429 ``RATE_LIMITED`` with ``Retry-After`` once an integration is
over it, other integrations and the token endpoint unaffected, and requests let through while Redis is
unreachable."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.app import create_app
from catalog_import.config import Settings
from catalog_import.media.services import MediaServices
from catalog_import.ratelimit import RateLimiter, parse_rate_limit
from tests.factories import Api, assert_error

LIMIT = 5


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API allowing ``LIMIT`` requests per integration and minute."""
    limited = settings.model_copy(
        update={"rate_limit": f"{LIMIT}/minute", "queue_name": f"{settings.queue_name}-{uuid.uuid4().hex}"}
    )
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def sign_in(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    media: MediaServices,
    name: str,
) -> Api:
    return await Api.signed_in(client, session_factory, settings, media, name=name)


async def test_requests_over_the_limit_get_429_with_retry_after(
    limited_client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    media: MediaServices,
) -> None:
    api = await sign_in(limited_client, session_factory, settings, media, "busy")
    calm = await sign_in(limited_client, session_factory, settings, media, "calm")

    answers = [(await api.get("/api/import")).status_code for _ in range(LIMIT)]
    refused = await api.get("/api/import")

    assert answers == [200] * LIMIT
    body = assert_error(refused, 429, "RATE_LIMITED")
    assert "retry" in body["message"].lower()
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another integration has its own count, and signing in is not counted.
    assert (await calm.get("/api/import")).status_code == 200
    token = await limited_client.post(
        "/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": api.client_id,
            "client_secret": api.client_secret,
        },
    )
    assert token.status_code == 200, token.text


async def test_unauthenticated_requests_get_401_not_429(
    limited_client: httpx.AsyncClient,
) -> None:
    for _ in range(LIMIT + 2):
        assert_error(await limited_client.get("/api/import"), 401, "UNAUTHORIZED")


async def test_limit_is_not_checked_while_redis_is_unreachable() -> None:
    # Nothing listens on port 9 of the loopback address: every Redis call fails at once.
    limiter = RateLimiter("redis://127.0.0.1:9/0", parse_rate_limit("1/minute"), "unreachable")

    try:
        for _ in range(3):
            await limiter.check(uuid.uuid4())
    finally:
        await limiter.aclose()


def test_limit_is_parsed_or_turned_off() -> None:
    assert parse_rate_limit("off") is None
    limit = parse_rate_limit("50/second")
    assert limit is not None and (limit.amount, limit.get_expiry()) == (50, 1)
    with pytest.raises(ValueError, match="rate_limit"):
        Settings(rate_limit="many per day")
