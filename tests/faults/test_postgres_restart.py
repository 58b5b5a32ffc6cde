"""PostgreSQL stopped and started again under the API and a worker, on a server of the tests' own: requests
in flight and requests while it is down are answered 503 with the error envelope (never a 500), the API's
engine recovers by itself, a retried push duplicates nothing, and a commit cut off half-way resumes and
ends ``done`` with exact totals."""

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.committer.tasks import is_transient
from catalog_import.config import Settings
from catalog_import.db import create_engine, create_session_factory
from catalog_import.media.services import MediaServices
from catalog_import.migrations import upgrade
from tests.factories import Api, assert_error, product
from tests.faults.conftest import WorkerFactory, serving
from tests.faults.support import Database, Locker, PostgresServer, eventually, wait_until_done
from tests.faults.test_killed_worker import FAULT_LINE, LOCK_CATEGORY, assert_written_once, numbered

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this module alone, migrated."""
    server = PostgresServer()
    try:
        server.start()
        upgrade(server.url)
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_settings(fault_settings: Settings, postgres: PostgresServer) -> Settings:
    return fault_settings.model_copy(update={"database_url": postgres.url})


@pytest.fixture
async def pg_session_factory(pg_settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    assert pg_settings.database_url
    engine = create_engine(pg_settings.database_url, pool_size=2)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def pg_app(
    pg_settings: Settings,
    pg_session_factory: async_sessionmaker[AsyncSession],
    media: MediaServices,
) -> AsyncIterator[tuple[Api, FastAPI]]:
    async with serving(pg_settings, pg_session_factory, media) as served:
        yield served


@pytest.fixture
def pg_api(pg_app: tuple[Api, FastAPI]) -> Api:
    return pg_app[0]


def pushed_ids(result: dict[str, Any], numbers: list[str]) -> dict[str, str]:
    """Product number → id of the records a push answered, in the order they were pushed."""
    records = result["records"]
    assert [r["errors"] for r in records] == [[]] * len(numbers), records
    return {number: record["id"] for number, record in zip(numbers, records, strict=True)}


async def refuses_connections(postgres: PostgresServer) -> bool:
    try:
        connection = await asyncpg.connect(postgres.url)
    except asyncpg.CannotConnectNowError:
        return True
    await connection.close()
    return False


async def job_error_is_transient(postgres: PostgresServer) -> bool:
    """Whether the error a worker's job meets on this server now is one its job retries without counting
    it as the import's failure."""
    engine = create_engine(postgres.url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return is_transient(exc)
    finally:
        await engine.dispose()
    raise AssertionError("the server accepted a new connection")


async def test_postgres_restarted_during_pushes(
    pg_app: tuple[Api, FastAPI], postgres: PostgresServer
) -> None:
    api, app = pg_app
    database = Database(postgres.url)
    prefix = f"PP{secrets.token_hex(2)}"
    numbers = numbered(prefix, 15)
    import_id = await api.start("pushes across a restart")
    first_body = {"products": [product(n) for n in numbers[:10]]}
    second_body = {"products": [product(n) for n in numbers[5:]]}
    first = pushed_ids(await api.push(import_id, first_body), numbers[:10])
    record_url = f"/api/import/{import_id}/record"
    status_url = f"/api/import/{import_id}/status"

    # A push waits for the import's row lock (pushes to one import are serialised) while the server goes
    # down: first a smart shutdown, which lets open sessions go on but refuses new connections ("the
    # database system is shutting down"), then a fast one, which ends the sessions.
    locker = await Locker.open(postgres.url)
    assert await locker.lock("SELECT id FROM imports WHERE id = $1 FOR UPDATE", uuid.UUID(import_id)) == 1
    in_flight = asyncio.create_task(api.post(record_url, json=second_body))
    await eventually(lambda: database.waiting_for(locker), "the push to wait for the import's lock")
    try:
        postgres.stop("smart", wait=False)
        await eventually(lambda: refuses_connections(postgres), "the server to refuse new connections")
        # Requests that need a new connection, and a worker's job that does.
        await app.state.engine.dispose()
        assert_error(await api.get(status_url), 503, "SERVICE_UNAVAILABLE")
        assert await job_error_is_transient(postgres)
        assert not in_flight.done()
        postgres.stop("fast")
        locker.abandon()
        assert_error(await in_flight, 503, "SERVICE_UNAVAILABLE")
        # While it is down.
        assert_error(await api.post(record_url, json=second_body), 503, "SERVICE_UNAVAILABLE")
        assert_error(await api.get(status_url), 503, "SERVICE_UNAVAILABLE")
        assert_error(await api.post(f"/api/import/{import_id}/commit"), 503, "SERVICE_UNAVAILABLE")
    finally:
        if not postgres.running():
            postgres.start()

    # The first request after the restart succeeds: the engine let go of its dead connections.
    second = pushed_ids(await api.push(import_id, second_body), numbers[5:])
    again = pushed_ids(await api.push(import_id, first_body), numbers[:10])
    # Same natural keys, same ids: the overlap and the repeated push replaced their staged records.
    assert {n: second[n] for n in numbers[5:10]} == {n: first[n] for n in numbers[5:10]}
    assert again == first
    assert await database.record_states(import_id) == {("product", "pending"): 15, ("tax", "pending"): 1}

    await api.commit(import_id)
    status = await api.run(import_id)

    assert status["status"] == "done"
    assert status["totals"]["product"] == 15
    assert status["totals"]["failures"] == 0
    assert status["progress"]["processed"] == status["progress"]["total"] == 16
    assert await database.product_numbers(f"{prefix}-") == numbers
    ids = first | second
    for number in numbers:
        assert uuid.UUID((await api.product(number))["id"]) == uuid.UUID(ids[number])


async def test_postgres_restarted_during_commit(
    pg_api: Api, pg_settings: Settings, postgres: PostgresServer, start_worker: WorkerFactory
) -> None:
    api = pg_api
    database = Database(postgres.url)
    prefix = f"PC{secrets.token_hex(2)}"
    category = f"{FAULT_LINE} {prefix}"
    await api.import_records({"categories": [{"name": category}]})
    worker = await start_worker(pg_settings)
    import_id = await api.start("commit across a restart")
    linked = [{"path": [category]}]
    body = {
        "products": [
            product(number, **({"categories": linked} if 20 <= n < 30 else {}))
            for n, number in enumerate(numbered(prefix, 40))
        ]
    }
    assert not (await api.push(import_id, body))["containsErrors"]
    locker = await Locker.open(postgres.url)
    assert await locker.lock(LOCK_CATEGORY, category) == 1
    await api.commit(import_id)
    await eventually(lambda: database.waiting_for(locker), "a batch waiting for the locked category")
    assert await database.product_numbers(f"{prefix}-") == numbered(prefix, 20)

    # As if it crashed: the batch in hand is lost with the server's memory.
    postgres.stop("immediate")
    locker.abandon()
    try:
        assert_error(await api.get(f"/api/import/{import_id}/status"), 503, "SERVICE_UNAVAILABLE")
        await worker.wait_logged("infrastructure error; the job is retried")
    finally:
        postgres.start()

    status = await wait_until_done(api, import_id)

    assert worker.alive()
    assert status["totals"]["product"] == 40
    assert status["totals"]["failures"] == 0
    assert status["failures"] == []
    assert status["progress"]["processed"] == status["progress"]["total"]
    await assert_written_once(database, prefix, 40)
    link = "product_categories pc JOIN categories c ON c.id = pc.category_id"
    assert await database.count(link, "c.name = $1", category) == 10
