"""Test fixtures: a real PostgreSQL and a real Redis (embedded unless CATALOG_IMPORT_TEST_DATABASE_URL and
CATALOG_IMPORT_TEST_REDIS_URL point at running servers), a fresh database built by the migrations, the
app over httpx's ASGI transport, and tables emptied after each test."""

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog_import.app import create_app
from catalog_import.config import Settings
from catalog_import.db import create_engine, create_session_factory
from catalog_import.embedded import embedded_postgres, embedded_redis
from catalog_import.media.services import MediaServices, media_services
from catalog_import.migrations import scratch_database
from tests.factories import Api
from tests.live import serve_process

# Everything but the seeded currencies and the server's own keys.
TABLES = [
    "webhook_deliveries",
    "runner_leases",
    "import_batches",
    "import_record_counts",
    "import_record_actions",
    "import_failures",
    "product_custom_entities",
    "custom_entity_records",
    "custom_entity_types",
    "import_record_dependencies",
    "import_records",
    "imports",
    "integrations",
    "product_media",
    "product_categories",
    "product_prices",
    "product_properties",
    "product_options",
    "products",
    "property_options",
    "property_groups",
    "media",
    "media_folders",
    "categories",
    "taxes",
]


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    """URLs of the PostgreSQL server and Redis the tests use."""
    database = os.environ.get("CATALOG_IMPORT_TEST_DATABASE_URL")
    redis = os.environ.get("CATALOG_IMPORT_TEST_REDIS_URL")
    # Short paths: PostgreSQL's socket path must stay under 108 bytes.
    with tempfile.TemporaryDirectory(prefix="ci-test-") as directory:
        root = Path(directory)
        with (
            embedded_postgres(root / "pg") if database is None else nullcontext(database) as database_url,
            embedded_redis(root / "redis") if redis is None else nullcontext(redis) as redis_url,
        ):
            yield database_url, redis_url


@pytest.fixture(scope="session")
def database_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """A database of its own for this test run, created and migrated, dropped at the end."""
    with scratch_database(server_urls[0], "catalog_import_test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(server_urls: tuple[str, str]) -> str:
    return server_urls[1]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, media_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        media_dir=media_dir,
        # The tests' file servers listen on 127.0.0.1; every other non-public address stays refused.
        media_allowed_hosts=["127.0.0.1"],
        media_retry_backoff_seconds=0.01,
        media_read_timeout_seconds=5,
        secret_key="test-signing-key-" + "x" * 32,
        queue_name=f"catalog-import-test-{secrets.token_hex(4)}",
        commit_batch_size=50,
        stalled_after_seconds=5,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert settings.database_url
    # Runners in the tests write several batches of media at once, a connection each.
    engine = create_engine(settings.database_url, pool_size=10)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture(scope="session")
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture(scope="session")
async def media(settings: Settings) -> AsyncIterator[MediaServices]:
    """The media services a worker would have, shared by the tests' in-process runners."""
    services = media_services(settings)
    yield services
    await services.aclose()


@pytest.fixture(autouse=True)
async def clean_tables(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))


@pytest.fixture(autouse=True)
async def empty_queue(settings: Settings) -> AsyncIterator[None]:
    """Drop the jobs a test's commits queued: their imports are gone with the tables, and a worker started
    by a later test would otherwise work through them first."""
    yield
    assert settings.redis_url
    client = redis.asyncio.Redis.from_url(settings.redis_url)
    try:
        queued = await client.zrange(settings.queue_name, 0, -1)
        if queued:
            await client.delete(settings.queue_name, *(b"arq:job:" + job for job in queued))
    finally:
        await client.aclose()


@pytest.fixture
async def api(
    app_client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    media: MediaServices,
) -> Api:
    """A signed-in integration with helpers for the import API."""
    return await Api.signed_in(app_client, session_factory, settings, media, name="main")


@pytest.fixture
async def other_api(
    app_client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    media: MediaServices,
) -> Api:
    """A second integration, to check that imports stay private."""
    return await Api.signed_in(app_client, session_factory, settings, media, name="other")


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """A real ``catalog-import serve`` on a loopback port (see ``tests.live``); yields its base URL."""
    with serve_process(settings, tmp_path) as url:
        yield url
