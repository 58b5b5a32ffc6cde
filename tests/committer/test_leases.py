"""Leases of the jobs on an import: held while a job runs and renewed, given back when it ends, left to run
out when it is cancelled; an importing import whose every lease ran out is handed over once."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.committer.leases import RunnerLeases
from catalog_import.committer.repository import CommitRepository
from tests.factories import Api, product

SessionFactory = async_sessionmaker[AsyncSession]


@pytest.fixture
async def importing(api: Api) -> uuid.UUID:
    """A committed import nobody works on."""
    import_id = await api.start()
    await api.push(import_id, {"products": [product("LEASED")]})
    await api.commit(import_id)
    return uuid.UUID(import_id)


async def lease_rows(session_factory: SessionFactory, import_id: uuid.UUID) -> list[float]:
    """Seconds each lease on the import has left (negative: run out)."""
    async with session_factory() as session:
        result = await session.execute(
            text(
                "SELECT extract(epoch FROM expires_at - clock_timestamp()) FROM runner_leases "
                "WHERE import_id = :id ORDER BY expires_at"
            ),
            {"id": import_id},
        )
        return [float(left) for (left,) in result]


async def expire_leases(session_factory: SessionFactory, import_id: uuid.UUID) -> None:
    async with session_factory() as session, session.begin():
        await session.execute(
            text(
                "UPDATE runner_leases SET expires_at = clock_timestamp() - interval '1 s' "
                "WHERE import_id = :id"
            ),
            {"id": import_id},
        )


async def taken_over(session_factory: SessionFactory) -> list[uuid.UUID]:
    async with session_factory() as session, session.begin():
        return await CommitRepository(session).take_expired_leases()


@pytest.fixture
def leases(session_factory: SessionFactory) -> RunnerLeases:
    return RunnerLeases(session_factory, lease_seconds=30)


class TestHolding:
    async def test_a_lease_is_held_while_the_job_runs_and_given_back_after(
        self, leases: RunnerLeases, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        async with leases.holding(importing):
            [left] = await lease_rows(session_factory, importing)
            assert 29 < left <= 30

        assert await lease_rows(session_factory, importing) == []

    async def test_a_job_that_fails_gives_its_lease_back(
        self, leases: RunnerLeases, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        with pytest.raises(RuntimeError):
            async with leases.holding(importing):
                raise RuntimeError("a bug")

        assert await lease_rows(session_factory, importing) == []

    async def test_a_cancelled_job_leaves_its_lease_to_run_out(
        self, leases: RunnerLeases, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        started = asyncio.Event()

        async def job() -> None:
            async with leases.holding(importing):
                started.set()
                await asyncio.sleep(60)

        running = asyncio.create_task(job())
        await started.wait()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

        assert len(await lease_rows(session_factory, importing)) == 1
        await leases.renew()  # no longer renewed by this worker
        [left] = await lease_rows(session_factory, importing)
        assert left < 30

    async def test_renewing_extends_every_lease_held(
        self, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        short = RunnerLeases(session_factory, lease_seconds=2)
        async with short.holding(importing), short.holding(importing):
            await asyncio.sleep(1)
            before = await lease_rows(session_factory, importing)
            await short.renew()
            after = await lease_rows(session_factory, importing)

        assert all(left < 1.5 for left in before)
        assert all(left > 1.5 for left in after) and len(after) == 2


class TestTakeOver:
    async def test_an_import_whose_leases_ran_out_is_taken_over_once(
        self, leases: RunnerLeases, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        async with leases.holding(importing):
            assert await taken_over(session_factory) == []
            await expire_leases(session_factory, importing)

            assert await taken_over(session_factory) == [importing]
            assert await taken_over(session_factory) == []

    async def test_an_import_with_a_live_lease_left_is_not_taken_over(
        self, leases: RunnerLeases, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        async with leases.holding(importing):
            await expire_leases(session_factory, importing)
            async with leases.holding(importing):
                assert await taken_over(session_factory) == []
                # The run-out lease is gone; the live one stays.
                assert len(await lease_rows(session_factory, importing)) == 1

    async def test_an_import_that_ended_is_not_taken_over(
        self, api: Api, leases: RunnerLeases, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        async with leases.holding(importing):
            await api.run(importing.hex)
            await expire_leases(session_factory, importing)

            assert await taken_over(session_factory) == []

    async def test_an_import_a_live_job_holds_is_not_stalled(
        self, leases: RunnerLeases, session_factory: SessionFactory, importing: uuid.UUID
    ) -> None:
        # Committed long ago as far as the stall check can tell: no progress for 5 s is a stall.
        async with session_factory() as session, session.begin():
            await session.execute(
                text("UPDATE imports SET commit_time = now() - interval '1 minute' WHERE id = :id"),
                {"id": importing},
            )

        async def stalled() -> list[uuid.UUID]:
            async with session_factory() as session:
                return await CommitRepository(session).stalled(5)

        assert await stalled() == [importing]
        async with leases.holding(importing):
            assert await stalled() == []
