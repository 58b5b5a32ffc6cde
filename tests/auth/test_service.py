"""Integrations, their hashed secrets, the bootstrap integration and access tokens."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.auth.secrets import hash_secret, verify_secret
from catalog_import.auth.service import (
    InvalidClient,
    authenticate,
    create_integration,
    ensure_bootstrap_integration,
    token_signing_key,
)
from catalog_import.auth.tokens import AUDIENCE, TokenSigner
from catalog_import.models import Integration
from catalog_import.ratelimit import RateLimiter

SessionFactory = async_sessionmaker[AsyncSession]
SIGNER = TokenSigner("service-test-signing-key-" + "z" * 32, 600)


async def stored_row(session_factory: SessionFactory, client_id: str) -> dict[str, object]:
    """The integration's row as the database holds it."""
    async with session_factory() as session:
        row = (
            await session.execute(
                text("SELECT * FROM integrations WHERE client_id = :client_id"), {"client_id": client_id}
            )
        ).one()
    return dict(row._mapping)


async def integrations_named(session_factory: SessionFactory, client_id: str) -> int:
    async with session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(Integration).where(Integration.client_id == client_id)
        )
    return count or 0


async def token_status(client: httpx.AsyncClient, client_id: str, client_secret: str) -> int:
    response = await client.post(
        "/api/oauth/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )
    return response.status_code


class TestSecrets:
    def test_hash_does_not_contain_the_secret(self) -> None:
        secret = "correct-horse-battery-staple"

        assert secret not in hash_secret(secret)

    def test_secret_verifies_against_its_hash(self) -> None:
        stored = hash_secret("correct-horse-battery-staple")

        assert verify_secret("correct-horse-battery-staple", stored)

    def test_wrong_secret_does_not_verify(self) -> None:
        stored = hash_secret("correct-horse-battery-staple")

        assert not verify_secret("correct-horse-battery-stapler", stored)

    def test_same_secret_hashes_differently_each_time(self) -> None:
        assert hash_secret("same secret") != hash_secret("same secret")

    @pytest.mark.parametrize(
        "stored",
        ["", "plain-text-secret", "md5$c2FsdA==$ZGlnZXN0", "scrypt$only-two-parts", "a$b$c$d"],
        ids=["empty", "plain", "other-scheme", "two-parts", "four-parts"],
    )
    def test_malformed_stored_hash_never_verifies(self, stored: str) -> None:
        assert not verify_secret("plain-text-secret", stored)


class TestCreateIntegration:
    async def test_returns_client_id_secret_and_webhook_secret(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")

        assert created.client_id
        assert created.client_secret
        assert created.webhook_secret
        assert len({created.client_id, created.client_secret, created.webhook_secret}) == 3
        assert created.integration.name == "shop middleware"

    async def test_secret_is_long_enough_to_resist_guessing(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")

        assert len(created.client_secret) >= 32

    async def test_each_integration_gets_its_own_credentials(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            first = await create_integration(session, "one")
            second = await create_integration(session, "two")

        assert first.client_id != second.client_id
        assert first.client_secret != second.client_secret
        assert first.webhook_secret != second.webhook_secret
        assert first.integration.id != second.integration.id

    async def test_secret_is_stored_hashed(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")

        row = await stored_row(session_factory, created.client_id)

        secret_hash = row["secret_hash"]
        assert isinstance(secret_hash, str)
        assert created.client_secret not in secret_hash
        assert all(created.client_secret not in str(value) for value in row.values())
        assert verify_secret(created.client_secret, secret_hash)
        assert not verify_secret(created.client_secret + "x", secret_hash)

    async def test_given_secret_is_stored_hashed(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "given", client_id="ci_given", client_secret="s3cret")

        row = await stored_row(session_factory, "ci_given")

        assert created.client_secret == "s3cret"
        assert "s3cret" not in str(row["secret_hash"])
        assert verify_secret("s3cret", str(row["secret_hash"]))

    async def test_same_secret_of_two_integrations_is_stored_differently(
        self, session_factory: SessionFactory
    ) -> None:
        async with session_factory() as session, session.begin():
            await create_integration(session, "one", client_id="ci_one", client_secret="shared")
            await create_integration(session, "two", client_id="ci_two", client_secret="shared")

        one = await stored_row(session_factory, "ci_one")
        two = await stored_row(session_factory, "ci_two")

        assert one["secret_hash"] != two["secret_hash"]

    async def test_webhook_secret_is_kept_readable_for_signing(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")

        row = await stored_row(session_factory, created.client_id)

        assert row["webhook_secret"] == created.webhook_secret

    async def test_created_integration_can_sign_in(
        self, session_factory: SessionFactory, app_client: httpx.AsyncClient
    ) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")

        assert await token_status(app_client, created.client_id, created.client_secret) == 200


class TestBootstrapIntegration:
    async def test_creates_the_integration(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "bootstrap-secret")

        row = await stored_row(session_factory, "ci_bootstrap")
        assert verify_secret("bootstrap-secret", str(row["secret_hash"]))
        assert "bootstrap-secret" not in str(row["secret_hash"])
        assert row["webhook_secret"]

    async def test_bootstrapped_integration_can_sign_in(
        self, session_factory: SessionFactory, app_client: httpx.AsyncClient
    ) -> None:
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "bootstrap-secret")

        assert await token_status(app_client, "ci_bootstrap", "bootstrap-secret") == 200

    async def test_is_idempotent(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "bootstrap-secret")
        before = await stored_row(session_factory, "ci_bootstrap")

        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "bootstrap-secret")

        assert await integrations_named(session_factory, "ci_bootstrap") == 1
        assert await stored_row(session_factory, "ci_bootstrap") == before

    async def test_resets_a_changed_secret(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "old-secret")
        before = await stored_row(session_factory, "ci_bootstrap")

        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "new-secret")

        after = await stored_row(session_factory, "ci_bootstrap")
        assert await integrations_named(session_factory, "ci_bootstrap") == 1
        assert after["id"] == before["id"]
        assert after["webhook_secret"] == before["webhook_secret"]
        assert verify_secret("new-secret", str(after["secret_hash"]))
        assert not verify_secret("old-secret", str(after["secret_hash"]))

    async def test_changed_secret_replaces_the_old_one_for_sign_in(
        self, session_factory: SessionFactory, app_client: httpx.AsyncClient
    ) -> None:
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "old-secret")
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "new-secret")

        assert await token_status(app_client, "ci_bootstrap", "old-secret") == 401
        assert await token_status(app_client, "ci_bootstrap", "new-secret") == 200

    async def test_keeps_the_imports_of_the_integration_when_the_secret_changes(
        self, session_factory: SessionFactory, app_client: httpx.AsyncClient
    ) -> None:
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "old-secret")
        headers = await sign_in(app_client, "ci_bootstrap", "old-secret")
        started = await app_client.post("/api/import/catalog/start", json={"name": "kept"}, headers=headers)
        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "new-secret")

        headers = await sign_in(app_client, "ci_bootstrap", "new-secret")
        response = await app_client.get(f"/api/import/{started.json()['id']}/status", headers=headers)

        assert response.status_code == 200, response.text

    async def test_leaves_other_integrations_alone(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            other = await create_integration(session, "other")
        before = await stored_row(session_factory, other.client_id)

        async with session_factory() as session, session.begin():
            await ensure_bootstrap_integration(session, "ci_bootstrap", "bootstrap-secret")

        assert await stored_row(session_factory, other.client_id) == before

    async def test_processes_starting_together_create_it_once(self, session_factory: SessionFactory) -> None:
        async def bootstrap() -> None:
            async with session_factory() as session, session.begin():
                await ensure_bootstrap_integration(session, "ci_bootstrap", "bootstrap-secret")

        await asyncio.gather(*(bootstrap() for _ in range(4)))

        assert await integrations_named(session_factory, "ci_bootstrap") == 1


async def sign_in(client: httpx.AsyncClient, client_id: str, client_secret: str) -> dict[str, str]:
    response = await client.post(
        "/api/oauth/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class TestAuthenticate:
    @pytest.fixture
    async def no_limit(self, redis_url: str) -> AsyncIterator[RateLimiter]:
        limiter = RateLimiter(redis_url, None, "unlimited")
        yield limiter
        await limiter.aclose()

    async def test_right_secret_gives_the_integration(
        self, session_factory: SessionFactory, no_limit: RateLimiter
    ) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")

        async with session_factory() as session:
            integration = await authenticate(
                session, no_limit, created.client_id, created.client_secret, "127.0.0.1"
            )

        assert integration.id == created.integration.id

    @pytest.mark.parametrize("secret", ["wrong", ""], ids=["wrong", "empty"])
    async def test_wrong_secret_is_an_invalid_client(
        self, session_factory: SessionFactory, no_limit: RateLimiter, secret: str
    ) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")

        async with session_factory() as session:
            with pytest.raises(InvalidClient) as raised:
                await authenticate(session, no_limit, created.client_id, secret, "127.0.0.1")

        assert (raised.value.status_code, raised.value.code) == (401, "INVALID_CLIENT")

    @pytest.mark.parametrize("client_id", ["ci_nobody", "", "ci_\x00"], ids=["unknown", "empty", "nul"])
    async def test_unknown_client_is_an_invalid_client(
        self, session_factory: SessionFactory, no_limit: RateLimiter, client_id: str
    ) -> None:
        async with session_factory() as session:
            with pytest.raises(InvalidClient):
                await authenticate(session, no_limit, client_id, "anything", "127.0.0.1")

    async def test_hash_given_as_secret_is_an_invalid_client(
        self, session_factory: SessionFactory, no_limit: RateLimiter
    ) -> None:
        async with session_factory() as session, session.begin():
            created = await create_integration(session, "shop middleware")
        row = await stored_row(session_factory, created.client_id)

        async with session_factory() as session:
            with pytest.raises(InvalidClient):
                await authenticate(session, no_limit, created.client_id, str(row["secret_hash"]), "127.0.0.1")


class TestTokenSigner:
    def test_issued_token_names_the_integration(self) -> None:
        integration_id = uuid.uuid4()

        assert SIGNER.verify(SIGNER.issue(integration_id)) == integration_id

    def test_issued_token_expires_after_the_ttl(self) -> None:
        before = int(time.time())

        claims = jwt.decode(SIGNER.issue(uuid.uuid4()), SIGNER.key, algorithms=["HS256"], audience=AUDIENCE)

        assert before + 600 <= claims["exp"] <= int(time.time()) + 600

    def test_token_of_another_key_is_refused(self) -> None:
        other = TokenSigner("another-signing-key-" + "y" * 32, 600)

        assert SIGNER.verify(other.issue(uuid.uuid4())) is None

    @pytest.mark.parametrize("ttl", [0, -1, -3600])
    def test_expired_token_is_refused(self, ttl: int) -> None:
        expired = TokenSigner(SIGNER.key, ttl)

        assert SIGNER.verify(expired.issue(uuid.uuid4())) is None

    @pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c"], ids=["empty", "garbage", "three-parts"])
    def test_malformed_token_is_refused(self, token: str) -> None:
        assert SIGNER.verify(token) is None


class TestSigningKey:
    async def test_is_generated_once_and_shared(self, session_factory: SessionFactory) -> None:
        async with session_factory() as session, session.begin():
            first = await token_signing_key(session)
        async with session_factory() as session, session.begin():
            second = await token_signing_key(session)

        assert first == second
        assert len(first) >= 32
