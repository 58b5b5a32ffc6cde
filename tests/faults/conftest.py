"""Fixtures of the fault tests: an API of their own per test (its own queue, one job per committed import, so
that only a run-out lease or the stall check hands a dead worker's import to someone else), worker
processes started with small batches and a short stall period, and direct reads from PostgreSQL."""

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.app import create_app
from catalog_import.config import Settings
from catalog_import.media.services import MediaServices
from catalog_import.queue import forget_queue
from tests.factories import Api
from tests.faults.support import Database, WorkerProcess

# Records per commit transaction in the workers the fault tests start.
BATCH_SIZE = 10
STALLED_AFTER_SECONDS = 5

WorkerFactory = Callable[..., Awaitable[WorkerProcess]]


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    assert settings.database_url and settings.redis_url
    return {
        "CATALOG_IMPORT_DATABASE_URL": settings.database_url,
        "CATALOG_IMPORT_REDIS_URL": settings.redis_url,
        "CATALOG_IMPORT_QUEUE_NAME": settings.queue_name,
        "CATALOG_IMPORT_MEDIA_DIR": str(settings.media_path),
        "CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS": ",".join(settings.media_allowed_hosts),
        "CATALOG_IMPORT_MEDIA_RETRY_BACKOFF_SECONDS": "0.01",
        "CATALOG_IMPORT_WORKER_MAX_JOBS": "1",
        "CATALOG_IMPORT_COMMIT_BATCH_SIZE": str(BATCH_SIZE),
        "CATALOG_IMPORT_COMMIT_JOBS_PER_IMPORT": "1",
        "CATALOG_IMPORT_STALLED_AFTER_SECONDS": str(STALLED_AFTER_SECONDS),
        "CATALOG_IMPORT_LOG_LEVEL": "INFO",
        "CATALOG_IMPORT_LOG_JSON": "true",
        **overrides,
    }


@pytest.fixture
async def fault_settings(settings: Settings) -> AsyncIterator[Settings]:
    """The suite's database and Redis, a queue of this test's own, one job per committed import; the
    queue is forgotten afterwards."""
    assert settings.redis_url
    queue_name = f"catalog-import-faults-{secrets.token_hex(4)}"
    yield settings.model_copy(
        update={
            "queue_name": queue_name,
            "commit_jobs_per_import": 1,
            "stalled_after_seconds": STALLED_AFTER_SECONDS,
        }
    )
    await forget_queue(settings.redis_url, queue_name)


@contextlib.asynccontextmanager
async def serving(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    media: MediaServices,
) -> AsyncIterator[tuple[Api, FastAPI]]:
    """An app for ``settings``, and a signed-in integration talking to it. An error that reaches the app's
    outermost handler (the one answering 500) is raised in the test as well."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield await Api.signed_in(client, session_factory, settings, media, name="faults"), app


@pytest.fixture
async def fault_api(
    fault_settings: Settings, session_factory: async_sessionmaker[AsyncSession], media: MediaServices
) -> AsyncIterator[Api]:
    async with serving(fault_settings, session_factory, media) as (api, _app):
        yield api


@pytest.fixture
async def start_worker(tmp_path: Path) -> AsyncIterator[WorkerFactory]:
    """Start a worker for some settings (and environment overrides); every one is stopped at the end."""
    started: list[WorkerProcess] = []

    async def start(settings: Settings, **overrides: str) -> WorkerProcess:
        worker = WorkerProcess(worker_env(settings, **overrides), tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        await worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def database(settings: Settings) -> Database:
    assert settings.database_url
    return Database(settings.database_url)
