"""Retention: imports past the retention period are purged with everything staged for them, in short
transactions that never wait for a push or another purger; recent and running imports stay, and so does
the catalog a purged import wrote."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.config import Settings
from catalog_import.imports.retention import (
    PurgeResult,
    RetentionRepository,
    purge_expired,
    purge_import,
)
from catalog_import.imports.tasks import PURGE_EVERY_MINUTES, purge_expired_imports
from catalog_import.models import Import, ImportFailure, ImportRecord, RecordDependency
from catalog_import.worker import periodic_checks
from tests.factories import Api, assert_error, product

DAYS = 7


@dataclass(frozen=True)
class Staged:
    """The rows the intermediate store holds for one import."""

    imports: int
    records: int
    dependencies: int
    failures: int


async def staged(api: Api, import_id: str) -> Staged:
    key = uuid.UUID(import_id)
    records = select(ImportRecord.record_id).where(ImportRecord.import_id == key)
    async with api.session_factory() as session:
        return Staged(
            imports=await count(session, select(func.count()).where(Import.id == key)),
            records=await count(session, select(func.count()).select_from(records.subquery())),
            dependencies=await count(
                session,
                select(func.count()).where(
                    RecordDependency.record_id.in_(records) | RecordDependency.depends_on.in_(records)
                ),
            ),
            failures=await count(session, select(func.count()).where(ImportFailure.import_id == key)),
        )


async def count(session: AsyncSession, statement: Any) -> int:
    return int(await session.scalar(statement) or 0)


async def age(api: Api, import_id: str, days: float, *columns: str) -> None:
    """Move the import's ``columns`` (timestamps) ``days`` into the past."""
    values = {column: func.now() - timedelta(days=days) for column in columns}
    async with api.session_factory() as session, session.begin():
        await session.execute(update(Import).where(Import.id == uuid.UUID(import_id)).values(**values))


async def status_of(api: Api, import_id: str) -> str | None:
    async with api.session_factory() as session:
        return await session.scalar(select(Import.status).where(Import.id == uuid.UUID(import_id)))


async def done_import(api: Api, *numbers: str) -> str:
    """A finished import that wrote one product per number (with a category and a tax it staged too, so
    that it has dependencies) and failed one more product (so that it has a failure)."""
    import_id = await api.start(deferReferences=True)
    await api.push(import_id, {"categories": [{"name": "Retained"}]})
    pushed = await api.push(
        import_id,
        {
            "products": [product(number, categories=[{"path": ["Retained"]}]) for number in numbers]
            + [product("FAILS", categories=[{"path": ["Nowhere"]}])]
        },
    )
    assert not pushed["containsErrors"], pushed
    status = await api.commit_and_run(import_id)
    assert status["status"] == "done"
    assert status["totals"]["failures"] == 1
    return import_id


async def started_import(api: Api, *numbers: str) -> str:
    import_id = await api.start()
    if numbers:
        pushed = await api.push(import_id, {"products": [product(number) for number in numbers]})
        assert not pushed["containsErrors"], pushed
    return import_id


async def purge(api: Api, **options: Any) -> PurgeResult:
    return await purge_expired(api.session_factory, DAYS, **options)


class CountingSessions:
    """A session factory that counts the sessions (each purge transaction has its own) it hands out."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self.factory = factory
        self.sessions = 0

    def __call__(self) -> AsyncSession:
        self.sessions += 1
        return self.factory()


class TestFinishedImports:
    async def test_a_done_import_past_the_period_is_purged_with_all_it_staged(self, api: Api) -> None:
        import_id = await done_import(api, "OLD-1", "OLD-2")
        before = await staged(api, import_id)
        assert before.records > 0
        assert before.dependencies > 0
        assert before.failures == 1
        await age(api, import_id, DAYS + 1, "end_time")

        result = await purge(api)

        assert result == PurgeResult(imports=1, records=before.records, idle_cancelled=0)
        assert await staged(api, import_id) == Staged(0, 0, 0, 0)
        assert_error(await api.get(f"/api/import/{import_id}/status"), 404, "IMPORT_NOT_FOUND")
        assert_error(await api.get(f"/api/import/{import_id}/failures"), 404, "IMPORT_NOT_FOUND")

    async def test_the_catalog_a_purged_import_wrote_stays(self, api: Api) -> None:
        import_id = await done_import(api, "KEPT-1")
        await age(api, import_id, DAYS + 1, "end_time")

        await purge(api)

        kept = await api.product("KEPT-1")
        assert [category["path"] for category in kept["categories"]] == [["Retained"]]
        assert kept["tax"]["name"] == "Standard rate"

    async def test_a_cancelled_import_past_the_period_is_purged(self, api: Api) -> None:
        import_id = await started_import(api, "C-1")
        response = await api.post(f"/api/import/{import_id}/cancel")
        assert response.status_code == 204, response.text
        await age(api, import_id, DAYS + 1, "start_time", "last_push_at", "end_time")

        result = await purge(api)

        assert result.imports == 1
        assert_error(await api.get(f"/api/import/{import_id}/status"), 404, "IMPORT_NOT_FOUND")

    async def test_recent_imports_stay(self, api: Api) -> None:
        recent = await done_import(api, "RECENT-1")
        await age(api, recent, DAYS - 1, "start_time", "commit_time", "end_time")
        before = await staged(api, recent)

        result = await purge(api)

        assert result == PurgeResult()
        assert await staged(api, recent) == before
        assert (await api.status(recent))["status"] == "done"

    async def test_an_import_still_importing_stays_however_old(self, api: Api) -> None:
        import_id = await started_import(api, "RUNNING-1")
        await api.commit(import_id)
        await age(api, import_id, 10 * DAYS, "start_time", "last_push_at", "commit_time", "heartbeat_at")
        before = await staged(api, import_id)

        result = await purge(api)

        assert result == PurgeResult()
        assert await staged(api, import_id) == before
        assert (await api.status(import_id))["status"] == "importing"


class TestImportsNeverCommitted:
    async def test_an_import_idle_past_the_period_is_purged(self, api: Api) -> None:
        pushed_long_ago = await started_import(api, "IDLE-1", "IDLE-2")
        await age(api, pushed_long_ago, DAYS + 1, "start_time", "last_push_at")
        never_pushed = await started_import(api)
        await age(api, never_pushed, DAYS + 1, "start_time")

        result = await purge(api)

        assert result == PurgeResult(imports=2, records=3, idle_cancelled=2)
        for import_id in (pushed_long_ago, never_pushed):
            assert await staged(api, import_id) == Staged(0, 0, 0, 0)
            assert_error(await api.get(f"/api/import/{import_id}/status"), 404, "IMPORT_NOT_FOUND")

    async def test_an_import_started_long_ago_but_pushed_to_lately_stays(self, api: Api) -> None:
        import_id = await started_import(api, "ACTIVE-1")
        await age(api, import_id, DAYS + 1, "start_time")
        await age(api, import_id, DAYS - 1, "last_push_at")

        result = await purge(api)

        assert result == PurgeResult()
        assert (await api.status(import_id))["status"] == "started"
        assert (await staged(api, import_id)).records == 2

    async def test_a_push_renews_an_import(self, api: Api) -> None:
        import_id = await started_import(api, "RENEWED-1")
        await age(api, import_id, DAYS + 1, "start_time", "last_push_at")
        await api.push(import_id, {"products": [product("RENEWED-2")]})

        result = await purge(api)

        assert result == PurgeResult()
        assert (await api.status(import_id))["status"] == "started"

    async def test_an_idle_import_refuses_pushes_once_cancelled_for_purge(self, api: Api) -> None:
        import_id = await started_import(api, "LATE-1")
        await age(api, import_id, DAYS + 1, "start_time", "last_push_at")
        async with api.session_factory() as session, session.begin():
            cancelled = await RetentionRepository(session).cancel_idle(DAYS, limit=10)
        assert cancelled == [uuid.UUID(import_id)]

        response = await api.post(f"/api/import/{import_id}/record", json={"products": [product("LATE-2")]})

        assert_error(response, 409, "IMPORT_CANCELLED")
        assert_error(await api.post(f"/api/import/{import_id}/commit"), 409, "IMPORT_CANCELLED")
        assert (await purge(api)).imports == 1


class TestConcurrency:
    async def test_records_are_deleted_a_chunk_per_transaction(self, api: Api) -> None:
        import_id = await done_import(api, "CHUNK-1", "CHUNK-2", "CHUNK-3", "CHUNK-4")
        records = (await staged(api, import_id)).records
        assert records == 7  # a category, a tax and five products
        await age(api, import_id, DAYS + 1, "end_time")
        sessions = CountingSessions(api.session_factory)

        purged, deleted = await purge_import(
            cast(async_sessionmaker[AsyncSession], sessions), uuid.UUID(import_id), DAYS, chunk_size=2
        )

        assert (purged, deleted) == (True, records)
        assert sessions.sessions == 4  # 2 + 2 + 2 records, then the last one and the import
        assert await staged(api, import_id) == Staged(0, 0, 0, 0)

    async def test_one_chunk_deletes_at_most_its_size(self, api: Api) -> None:
        import_id = await done_import(api, "PART-1", "PART-2")
        records = (await staged(api, import_id)).records
        async with api.session_factory() as session, session.begin():
            deleted = await RetentionRepository(session).delete_records(uuid.UUID(import_id), 2)

        assert deleted == 2
        assert (await staged(api, import_id)).records == records - 2

    async def test_two_purges_at_once_share_the_work(self, api: Api) -> None:
        import_ids = [await done_import(api, f"PAIR-{index}") for index in range(4)]
        records = sum([(await staged(api, import_id)).records for import_id in import_ids])
        for import_id in import_ids:
            await age(api, import_id, DAYS + 1, "end_time")

        first, second = await asyncio.gather(purge(api, chunk_size=1), purge(api, chunk_size=1))

        assert first.imports + second.imports == len(import_ids)
        assert first.records + second.records == records
        for import_id in import_ids:
            assert await staged(api, import_id) == Staged(0, 0, 0, 0)

    async def test_an_import_held_by_someone_else_is_skipped_without_waiting(self, api: Api) -> None:
        held = await done_import(api, "HELD-1")
        idle = await started_import(api, "HELD-2")
        await age(api, held, DAYS + 1, "end_time")
        await age(api, idle, DAYS + 1, "start_time", "last_push_at")

        async with api.session_factory() as session, session.begin():
            await session.execute(
                select(Import.id).where(Import.id.in_([uuid.UUID(held), uuid.UUID(idle)])).with_for_update()
            )
            result = await asyncio.wait_for(purge(api), timeout=30)

        assert result == PurgeResult()
        assert await status_of(api, held) == "done"
        assert await status_of(api, idle) == "started"
        assert (await purge(api)).imports == 2


class TestWorkerJob:
    async def test_the_worker_runs_the_purge_periodically(self, settings: Settings) -> None:
        (purge,) = [check for check in periodic_checks(settings, {}) if check.name == "purge"]

        assert purge.every_seconds == PURGE_EVERY_MINUTES * 60

    async def test_the_job_purges_with_the_configured_period(self, api: Api) -> None:
        import_id = await done_import(api, "JOB-1")
        await age(api, import_id, 4, "end_time")
        ctx: dict[str, Any] = {"runtime": SimpleNamespace(session_factory=api.session_factory)}

        assert await purge_expired_imports({**ctx, "retention_days": 5}) == 0
        assert await purge_expired_imports({**ctx, "retention_days": 3}) == 1
        assert await status_of(api, import_id) is None
