"""Redis killed and restarted empty while a worker commits an import: the worker keeps running and
reconnects, the import it had in hand finishes, the imports whose jobs were lost with Redis's memory (or
never reached it) are queued again by the stall check, and the API queues new commits on the restarted
server. And a job Redis fails to start does not cost the worker one of its job slots."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from arq import func
from arq.connections import create_pool
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.config import Settings
from catalog_import.media.services import MediaServices
from catalog_import.queue import REDIS_UNAVAILABLE, ReconnectingWorker, redis_settings
from tests.factories import product
from tests.faults.conftest import WorkerFactory, serving
from tests.faults.support import Database, Locker, RedisServer, eventually, wait_until_done
from tests.faults.test_killed_worker import FAULT_LINE, LOCK_CATEGORY, assert_written_once, numbered

pytestmark = pytest.mark.faults


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server
    server.stop()


async def job_queued(redis_url: str, import_id: str) -> bool:
    """Whether the import's commit job is in Redis."""
    client = Redis.from_url(redis_url)
    try:
        return bool(await client.exists(f"arq:job:import:{uuid.UUID(import_id).hex}:c:0"))
    finally:
        await client.aclose()


async def test_redis_restarted_during_commit(
    redis_server: RedisServer,
    fault_settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    media: MediaServices,
    start_worker: WorkerFactory,
    database: Database,
) -> None:
    settings = fault_settings.model_copy(update={"redis_url": redis_server.url})
    async with serving(settings, session_factory, media) as (api, _app):
        await api.import_records({"categories": [{"name": FAULT_LINE}]})
        worker = await start_worker(settings)
        linked = [{"path": [FAULT_LINE]}]
        first = await api.start("in hand while redis restarts")
        body = {
            "products": [
                product(number, **({"categories": linked} if 20 <= n < 30 else {}))
                for n, number in enumerate(numbered("RA", 40))
            ]
        }
        assert not (await api.push(first, body))["containsErrors"]
        second = await api.start("queued while redis restarts")
        assert not (await api.push(second, {"products": [product(n) for n in numbered("RB", 15)]}))[
            "containsErrors"
        ]
        offline = await api.start("committed while redis is down")
        assert not (await api.push(offline, {"products": [product(n) for n in numbered("RD", 5)]}))[
            "containsErrors"
        ]
        locker = await Locker.open(database.url)
        try:
            assert await locker.lock(LOCK_CATEGORY, FAULT_LINE) == 1
            await api.commit(first)
            await eventually(lambda: database.waiting_for(locker), "the worker to wait for the category")
            # The worker runs one job at a time: the second import's job waits in Redis.
            await api.commit(second)
            assert await job_queued(redis_server.url, second)

            # The worker, its one slot busy, asks Redis for nothing meanwhile (its periodic checks run
            # beside the job and need Redis only to queue an import): it finds Redis back when it next
            # polls.
            redis_server.kill()
            # Accepted all the same: the commit is kept in PostgreSQL, and the stall check queues it.
            await api.commit(offline)
            redis_server.start()
            assert not await job_queued(redis_server.url, second)
        finally:
            await locker.release()

        first_status = await wait_until_done(api, first)
        second_status = await wait_until_done(api, second)
        offline_status = await wait_until_done(api, offline)
        # Committed after the restart: the API's connections to Redis recover too.
        third = await api.start("committed after the restart")
        assert not (await api.push(third, {"products": [product(n) for n in numbered("RC", 5)]}))[
            "containsErrors"
        ]
        await api.commit(third)
        third_status = await wait_until_done(api, third)

    assert worker.alive()
    assert first_status["totals"] == {
        "product": 40,
        "media": 0,
        "category": 0,
        "tax": 1,
        "total": 41,
        "failures": 0,
    }
    # Its nested tax, created by the first import meanwhile, is adopted: written as an update.
    assert second_status["totals"] == {
        "product": 15,
        "media": 0,
        "category": 0,
        "tax": 1,
        "total": 16,
        "failures": 0,
    }
    for status in (offline_status, third_status):
        assert status["totals"]["product"] == 5
        assert status["totals"]["failures"] == 0
    for status in (first_status, second_status, offline_status, third_status):
        assert status["failures"] == []
        assert status["progress"]["processed"] == status["progress"]["total"]
    await assert_written_once(database, "RA", 40)
    await assert_written_once(database, "RB", 15)
    await assert_written_once(database, "RC", 5)
    await assert_written_once(database, "RD", 5)
    for import_id in (second, offline):
        assert worker.logged("stalled import queued again", import_id=uuid.UUID(import_id).hex)


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def test_a_job_redis_fails_to_start_keeps_no_slot(redis_server: RedisServer) -> None:
    pool = await create_pool(redis_settings(redis_server.url), default_queue_name="slots")
    worker = ReconnectingWorker(
        functions=[func(noop, name="noop")],
        redis_pool=pool,
        queue_name="slots",
        max_jobs=2,
        handle_signals=False,
    )
    for n in range(2):
        await pool.enqueue_job("noop", _job_id=f"slot-{n}")
    job_ids = [b"slot-0", b"slot-1"]
    redis_server.kill()
    try:
        with pytest.raises(REDIS_UNAVAILABLE):
            await worker.start_jobs(job_ids)
        assert worker.job_counter == 0
        # The poll loop carries on while Redis is away.
        await worker._poll_iteration()
    finally:
        redis_server.start()

    # Both slots are free: a restarted Redis has lost the jobs, queued again they both start at once.
    for n in range(2):
        await pool.enqueue_job("noop", _job_id=f"slot-{n}")
    await worker.start_jobs(job_ids)
    assert sorted(worker.tasks) == ["slot-0", "slot-1"]
    await asyncio.gather(*worker.tasks.values())
    assert worker.job_counter == 0
    await pool.aclose()
