"""A worker process killed with SIGKILL in the middle of a commit — half-way through a batch, while a media
download hangs, between two levels — loses nothing and writes nothing twice: once its job's lease runs out
(``RUNNER_LEASE_SECONDS``, 6 s), another worker (or the same one, restarted) takes the import over within
about ten seconds of the kill and finishes it with exact totals. The progress-based stall check is set to a
minute here, so that it cannot be what hands the import on.

Where the worker is when it dies is not left to timing: the test holds a lock the worker must wait for (a
category row a batch's products link to; the staged records of the next level), or a media server stalls
a download, and the worker is killed once PostgreSQL or the server shows it waiting there."""

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalog_import.config import Settings
from catalog_import.media.download import IN_MEMORY_BYTES
from tests.factories import Api, product
from tests.faults.conftest import STALLED_AFTER_SECONDS, WorkerFactory
from tests.faults.support import Database, Locker, eventually, wait_until_done
from tests.media.servers import LoopbackServer, Reply

pytestmark = pytest.mark.faults

FAULT_LINE = "Fault line"
LOCK_CATEGORY = "SELECT id FROM categories WHERE name = $1 AND parent_id IS NULL FOR UPDATE"
# The worker prepares the import and writes the levels above the products, then waits for this lock to
# insert the products, with the batch of products claimed and not done.
HOLD_PRODUCTS = "LOCK TABLE products IN SHARE MODE"


def numbered(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:03d}" for n in range(count)]


# Longer than any test here waits: only the leases can hand a dead worker's import on in time.
SLOW_STALL_CHECK = {"CATALOG_IMPORT_STALLED_AFTER_SECONDS": "60"}
# From the kill to the import taken over: the lease runs out (at most 6 s after its last renewal) and the
# next check, every 2 s, queues the import again.
TAKE_OVER_SECONDS = 10.0


async def taken_over_soon(worker: Any, import_id: str, killed_at: float) -> None:
    """``worker`` queued the import again as a gone worker's, within TAKE_OVER_SECONDS of the kill."""
    await worker.wait_logged("import of a gone worker queued again", import_id=uuid.UUID(import_id).hex)
    assert time.monotonic() - killed_at < TAKE_OVER_SECONDS


async def assert_written_once(database: Database, prefix: str, count: int) -> None:
    """Every product of the import in the catalog, once, with its one price and its tax."""
    assert await database.product_numbers(f"{prefix}-") == numbered(prefix, count)
    like = f"{prefix}-%"
    join = "product_prices pp JOIN products p ON p.id = pp.product_id"
    assert await database.count(join, "p.product_number LIKE $1", like) == count
    assert await database.count("taxes", "name = 'Standard rate'") == 1


async def test_killed_mid_batch(
    fault_api: Api, fault_settings: Settings, start_worker: WorkerFactory, database: Database
) -> None:
    api = fault_api
    await api.import_records({"categories": [{"name": FAULT_LINE}]})
    first = await start_worker(fault_settings, **SLOW_STALL_CHECK)
    import_id = await api.start("killed mid-batch")
    # Products 30 to 39, the fourth batch of the level, link to the category the test keeps locked.
    linked = [{"path": [FAULT_LINE]}]
    body = {
        "products": [
            product(number, **({"categories": linked} if 30 <= n < 40 else {}))
            for n, number in enumerate(numbered("KB", 60))
        ]
    }
    assert not (await api.push(import_id, body))["containsErrors"]
    locker = await Locker.open(database.url)
    try:
        assert await locker.lock(LOCK_CATEGORY, FAULT_LINE) == 1
        await api.commit(import_id)
        await eventually(lambda: database.waiting_for(locker), "a batch waiting for the locked category")
        # Three batches are committed; the fourth is claimed, half-written and waiting.
        assert await database.product_numbers("KB-") == numbered("KB", 30)
        second = await start_worker(fault_settings, **SLOW_STALL_CHECK)
        first.kill()
        killed_at = time.monotonic()
    finally:
        await locker.release()
    assert (await api.status(import_id))["status"] == "importing"

    await taken_over_soon(second, import_id, killed_at)
    status = await wait_until_done(api, import_id)

    assert status["totals"] == {
        "product": 60,
        "media": 0,
        "category": 0,
        "tax": 1,
        "total": 61,
        "failures": 0,
    }
    assert status["failures"] == []
    assert status["progress"]["processed"] == status["progress"]["total"] == 61
    await assert_written_once(database, "KB", 60)
    link = "product_categories pc JOIN categories c ON c.id = pc.category_id"
    assert await database.count(link, "c.name = $1", FAULT_LINE) == 10


async def test_killed_mid_download_and_restarted(
    fault_api: Api,
    fault_settings: Settings,
    start_worker: WorkerFactory,
    database: Database,
    media_dir: Path,
) -> None:
    api = fault_api
    with LoopbackServer() as server:
        # Large enough to be spooled to a temporary file before the server stalls.
        slow_body = server.png("/slow.png", side=700)
        assert len(slow_body) > IN_MEMORY_BYTES + 100_000
        slow = server.serve("/slow.png", Reply(body=slow_body, stall_after=IN_MEMORY_BYTES + 50_000))
        urls = [slow, *(server.image(f"/quick-{n}.png") for n in range(1, 5))]
        worker = await start_worker(fault_settings, **SLOW_STALL_CHECK)
        import_id = await api.start("killed mid-download")
        body = {"products": [product(f"KD-{n:03d}", media=[{"url": url}]) for n, url in enumerate(urls)]}
        assert not (await api.push(import_id, body))["containsErrors"]
        await api.commit(import_id)

        def partial_files() -> list[Path]:
            return sorted((media_dir / "tmp").glob(f"{worker.pid}-*.part"))

        # The batch of the five media is open, one download hanging half-way.
        await eventually(lambda: server.stalling.is_set() and partial_files(), "the download to stall")
        left_behind = partial_files()
        worker.kill()
        killed_at = time.monotonic()
        assert all(path.exists() for path in left_behind)
        assert await database.count("media", "source_url = ANY($1)", urls) == 0

        server.serve("/slow.png", Reply(body=slow_body))
        server.release()

        restarted = await start_worker(fault_settings, **SLOW_STALL_CHECK)
        # The restarted worker removed what the killed one left half-downloaded (at its start-up, which
        # arq runs after it logs that it starts).
        await restarted.wait_logged("removed partial downloads of stopped processes")
        assert not any(path.exists() for path in left_behind)
        await taken_over_soon(restarted, import_id, killed_at)
        status = await wait_until_done(api, import_id)

        assert (status["stalled"], status["lastProgressAt"]) == (False, None)
        assert status["totals"] == {
            "product": 5,
            "media": 5,
            "category": 0,
            "tax": 1,
            "total": 11,
            "failures": 0,
        }
        assert status["failures"] == []
        await assert_written_once(database, "KD", 5)
        for url in urls:
            assert await database.count("media", "source_url = $1", url) == 1
        link = "product_media pm JOIN media m ON m.id = pm.media_id"
        assert await database.count(link, "m.source_url = ANY($1)", urls) == 5
        (view,) = (await api.product("KD-000"))["media"]
        assert view["size"] == len(slow_body)
        assert (await api.client.get(view["url"])).content == slow_body
        # Downloaded once by the killed worker (half-way) and once by the restarted one.
        assert server.requests("/slow.png") == 2
        assert sorted((media_dir / "tmp").glob("*.part")) == []


async def test_killed_between_levels(
    fault_api: Api, fault_settings: Settings, start_worker: WorkerFactory, database: Database
) -> None:
    api = fault_api
    first = await start_worker(fault_settings, **SLOW_STALL_CHECK)
    import_id = await api.start("killed between levels")
    shelves = [f"Shelf {n}" for n in range(5)]
    body = {
        "categories": [{"name": "Levels"}, *({"name": s, "parent": ["Levels"]} for s in shelves)],
        "products": [
            product(number, categories=[{"path": ["Levels", shelves[n % 5]]}])
            for n, number in enumerate(numbered("KL", 40))
        ],
    }
    assert not (await api.push(import_id, body))["containsErrors"]
    locker = await Locker.open(database.url)
    try:
        await locker.hold(HOLD_PRODUCTS)
        await api.commit(import_id)
        # Levels 2 (the root category) and 1 (the shelves, the tax) are written; level 0 (the products) is
        # claimed but waits for the products table the test holds.
        between = {("category", "written"): 6, ("tax", "written"): 1, ("product", "pending"): 40}
        await eventually(
            lambda: _states_are(database, import_id, between), "the worker to reach the last level"
        )
        assert await database.product_numbers("KL-") == []
        second = await start_worker(fault_settings, **SLOW_STALL_CHECK)
        first.kill()
        killed_at = time.monotonic()
    finally:
        await locker.release()

    await taken_over_soon(second, import_id, killed_at)
    status = await wait_until_done(api, import_id)

    assert status["totals"] == {
        "product": 40,
        "media": 0,
        "category": 6,
        "tax": 1,
        "total": 47,
        "failures": 0,
    }
    assert status["failures"] == []
    assert status["progress"] == {"total": 47, "processed": 47, "level": None, "levels": 3}
    await assert_written_once(database, "KL", 40)
    assert await database.count("categories", "path[1] = 'Levels'") == 6
    link = "product_categories pc JOIN products p ON p.id = pc.product_id"
    assert await database.count(link, "p.product_number LIKE 'KL-%'") == 40


async def _states_are(database: Database, import_id: str, expected: dict[tuple[str, str], int]) -> bool:
    return await database.record_states(import_id) == expected


async def test_a_killed_worker_s_import_is_shown_stalled(
    fault_api: Api, fault_settings: Settings, start_worker: WorkerFactory
) -> None:
    api = fault_api
    with LoopbackServer() as server:
        body = server.png("/hanging.png", side=8)
        url = server.serve("/hanging.png", Reply(body=body, stall_after=10))
        worker = await start_worker(fault_settings, **SLOW_STALL_CHECK)
        import_id = await api.start("killed and stalled")
        assert not (await api.push(import_id, {"products": [product("KS-1", media=[{"url": url}])]}))[
            "containsErrors"
        ]
        await api.commit(import_id)
        await eventually(server.stalling.is_set, "the download to stall")
        moving = await api.status(import_id)
        assert moving["stalled"] is False
        worker.kill()

        # With no worker left nobody makes progress: once the stall period is over, the status says so.
        async def stalled_status() -> dict[str, Any] | None:
            status = await api.status(import_id)
            return status if status["stalled"] else None

        stalled = await eventually(stalled_status, "the status to say stalled", STALLED_AFTER_SECONDS + 10)
        server.release()
    assert stalled["status"] == "importing"
    last_progress = datetime.fromisoformat(stalled["lastProgressAt"])
    assert datetime.fromisoformat(stalled["commitTime"]) <= last_progress
    assert (datetime.now(UTC) - last_progress).total_seconds() > STALLED_AFTER_SECONDS
