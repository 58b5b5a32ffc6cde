"""End to end with real arq workers: `catalog-import worker` processes take committed imports from Redis
and write them; two of them share one import."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from catalog_import.config import Settings
from tests.factories import Api, product
from tests.media.servers import LoopbackServer, Reply

pytestmark = pytest.mark.workers

WorkerFactory = Callable[..., Coroutine[Any, Any, list["WorkerProcess"]]]


class WorkerProcess:
    """A `catalog-import worker` subprocess whose log is kept in a file."""

    def __init__(self, settings: Settings, log_path: Path, **extra_env: str) -> None:
        assert settings.database_url and settings.redis_url
        env = {
            **os.environ,
            "CATALOG_IMPORT_DATABASE_URL": settings.database_url,
            "CATALOG_IMPORT_REDIS_URL": settings.redis_url,
            "CATALOG_IMPORT_QUEUE_NAME": settings.queue_name,
            "CATALOG_IMPORT_MEDIA_DIR": str(settings.media_path),
            "CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS": ",".join(settings.media_allowed_hosts),
            "CATALOG_IMPORT_WORKER_MAX_JOBS": "1",
            "CATALOG_IMPORT_COMMIT_BATCH_SIZE": "20",
            "CATALOG_IMPORT_LOG_LEVEL": "DEBUG",
            "CATALOG_IMPORT_LOG_JSON": "true",
            **extra_env,
        }
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "catalog_import", "worker"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while "Starting worker" not in self.log():
            assert self.process.poll() is None, f"worker exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"worker did not start:\n{self.log()}"
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
async def start_workers(settings: Settings, tmp_path: Path) -> AsyncIterator[WorkerFactory]:
    started: list[WorkerProcess] = []

    async def start(count: int, **extra_env: str) -> list[WorkerProcess]:
        workers = [
            WorkerProcess(settings, tmp_path / f"worker-{len(started) + n}.log", **extra_env)
            for n in range(count)
        ]
        started.extend(workers)
        for worker in workers:
            await worker.wait_ready()
        return workers

    yield start
    for worker in started:
        worker.stop()


async def wait_until_done(api: Api, import_id: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await api.status(import_id)
        if status["status"] == "done":
            return status
        assert time.monotonic() < deadline, f"import not done in time: {status}"
        await asyncio.sleep(0.2)


def catalog_body(count: int, offset: int = 0) -> dict[str, Any]:
    return {
        "products": [
            product(f"W-{offset + n:05d}", categories=[{"path": ["Workers", f"Group {(offset + n) % 10}"]}])
            for n in range(count)
        ]
    }


async def test_a_worker_imports_a_committed_import(api: Api, start_workers: WorkerFactory) -> None:
    await start_workers(1)
    import_id = await api.start("one worker")
    await api.push(
        import_id,
        {
            "categories": [
                {"name": "Workers"},
                *[{"name": f"Group {g}", "parent": ["Workers"]} for g in range(10)],
            ]
        },
    )
    await api.push(import_id, catalog_body(100))
    await api.commit(import_id)

    status = await wait_until_done(api, import_id)

    assert status["totals"] == {
        "product": 100,
        "media": 0,
        "category": 11,
        "tax": 1,
        "total": 112,
        "failures": 0,
    }
    assert status["progress"] == {"total": 112, "processed": 112, "level": None, "levels": 3}
    assert (await api.product("W-00042"))["categories"][0]["path"] == ["Workers", "Group 2"]


async def test_two_workers_share_one_import(api: Api, start_workers: WorkerFactory) -> None:
    workers = await start_workers(2)
    import_id = await api.start("two workers")
    await api.push(
        import_id,
        {
            "categories": [
                {"name": "Workers"},
                *[{"name": f"Group {g}", "parent": ["Workers"]} for g in range(10)],
            ]
        },
    )
    for offset in range(0, 3000, 1000):
        result = await api.push(import_id, catalog_body(1000, offset))
        assert not result["containsErrors"]
    await api.commit(import_id)

    status = await wait_until_done(api, import_id)

    assert status["totals"]["product"] == 3000
    assert status["totals"]["failures"] == 0
    assert status["progress"]["processed"] == status["progress"]["total"] == 3012
    # Both processes wrote batches of this import.
    for worker in workers:
        log = worker.log()
        assert import_id in log
        assert '"event": "batch written"' in log, log[-2000:]
    # Written exactly once: every product is there, once.
    numbers: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/catalog/products", params=params)).json()
        numbers.extend(item["productNumber"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(numbers) == [f"W-{n:05d}" for n in range(3000)]


async def test_a_busy_worker_queues_nothing_for_the_next_import_to_wait_behind(
    api: Api, settings: Settings, start_workers: WorkerFactory
) -> None:
    # Leases of 3 s: the check for gone workers runs every second.
    await start_workers(1, CATALOG_IMPORT_RUNNER_LEASE_SECONDS="3")
    with LoopbackServer() as pictures:
        # The worker's one job slot stays busy on this download until the server is released.
        url = pictures.serve("/held.png", Reply(body=pictures.png("/held.png"), stall_after=10))
        import_id = await api.start("busy")
        await api.push(import_id, {"products": [product("BUSY-1", media=[{"url": url}])]})
        await api.commit(import_id)
        deadline = time.monotonic() + 30
        while pictures.requests("/held.png") == 0:
            assert time.monotonic() < deadline, "the download did not start"
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.5)

        queued = await queued_job_ids(settings)
        pictures.release()
        status = await wait_until_done(api, import_id)

    # The periodic checks ran meanwhile beside the job, not as jobs queued behind it: the queue holds the
    # import's own jobs (the one running stays queued until it ends) and nothing else.
    assert sorted(queued) == [f"import:{import_id}:c:0", f"import:{import_id}:c:1"]
    assert status["totals"]["product"] == 1


async def queued_job_ids(settings: Settings) -> list[str]:
    client = Redis.from_url(settings.redis_url or "")
    try:
        return [member.decode() for member in await client.zrange(settings.queue_name, 0, -1)]
    finally:
        await client.aclose()
