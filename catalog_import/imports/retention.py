"""Retention of the intermediate store: imports past the retention period are purged with everything
staged for them (records, dependencies, failures); the catalog they wrote stays.

An import is due once
- it is ``done`` or ``cancelled`` and ended (finished or was cancelled) longer ago than the period, or
- it was never committed (``started``) and nothing was pushed to it for longer than the period (its last
  push, or its start when it has none). Such an import is first cancelled, with its last activity as its
  end time, so that pushes and commits are refused from then on and it is due at once.

An import that is ``importing`` is never purged.

Purging works in short transactions: one per chunk of at most ``chunk_size`` staged records, the last one
deleting the import row as well. Each holds the import's row lock, taken with ``SKIP LOCKED``, so a purger
never waits for a push or for another purger: any number of them can run at once, each working on imports
the others do not hold at that moment."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import ColumnElement, CursorResult, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.models import Import, ImportRecord, ImportStatus, RecordDependency

logger = structlog.get_logger(__name__)

PURGE_CHUNK_SIZE = 5000
"""Staged records deleted per transaction."""

IMPORTS_PER_QUERY = 200
"""Imports cancelled, or listed as due, per statement."""

ENDED = (ImportStatus.DONE, ImportStatus.CANCELLED)


def cutoff(older_than_days: int) -> ColumnElement[datetime]:
    """The time before which an import's last activity makes it due."""
    return func.now() - func.make_interval(0, 0, 0, older_than_days)


def last_activity() -> ColumnElement[datetime]:
    """When something last happened to an import that was never committed."""
    return func.coalesce(Import.last_push_at, Import.start_time)


@dataclass
class PurgeResult:
    """What one purge pass did."""

    imports: int = 0
    records: int = 0
    # Imports never committed that were cancelled for being idle (and then purged like any other).
    idle_cancelled: int = 0


class RetentionRepository:
    """SQL of the purge: finding due imports, locking one, deleting its staged records and itself."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cancel_idle(self, older_than_days: int, limit: int) -> list[uuid.UUID]:
        """Cancel up to ``limit`` imports never committed and idle for longer than the period; their end
        time becomes their last activity. Imports locked by a push at this moment are left alone."""
        idle = (
            select(Import.id)
            .where(Import.status == ImportStatus.STARTED, last_activity() < cutoff(older_than_days))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(Import)
            .where(Import.id.in_(idle.scalar_subquery()))
            .values(status=ImportStatus.CANCELLED, end_time=last_activity())
            .returning(Import.id)
            .execution_options(synchronize_session=False)
        )
        return list((await self.session.scalars(statement)).all())

    async def due(
        self, older_than_days: int, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[tuple[datetime, uuid.UUID]]:
        """Ended imports past the period, oldest first, after ``after`` (end time and id) if given."""
        statement = select(Import.end_time, Import.id).where(
            Import.status.in_(ENDED), Import.end_time < cutoff(older_than_days)
        )
        if after is not None:
            statement = statement.where(tuple_(Import.end_time, Import.id) > tuple_(*after))
        rows = await self.session.execute(statement.order_by(Import.end_time, Import.id).limit(limit))
        # ``end_time < cutoff`` leaves no null end time out of it.
        return [(cast(datetime, end_time), import_id) for end_time, import_id in rows]

    async def lock_due(self, import_id: uuid.UUID, older_than_days: int) -> bool:
        """Lock the import if it is still due and nobody else holds it."""
        locked = await self.session.scalar(
            select(Import.id)
            .where(
                Import.id == import_id,
                Import.status.in_(ENDED),
                Import.end_time < cutoff(older_than_days),
            )
            .with_for_update(skip_locked=True)
        )
        return locked is not None

    async def delete_records(self, import_id: uuid.UUID, limit: int) -> int:
        """Delete up to ``limit`` staged records of the import (their dependencies and failures go with
        them); how many were deleted."""
        chunk = list(
            await self.session.scalars(
                select(ImportRecord.record_id).where(ImportRecord.import_id == import_id).limit(limit)
            )
        )
        # Every dependency is one of a record of the import (its record_id): it goes with that record.
        await self.session.execute(
            delete(RecordDependency)
            .where(RecordDependency.record_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                delete(ImportRecord)
                .where(ImportRecord.record_id.in_(chunk))
                .execution_options(synchronize_session=False)
            ),
        )
        return int(result.rowcount)

    async def delete_import(self, import_id: uuid.UUID) -> None:
        """Delete the import row; what is left of it (import-wide failures) goes with it."""
        await self.session.execute(
            delete(Import).where(Import.id == import_id).execution_options(synchronize_session=False)
        )


async def purge_import(
    session_factory: async_sessionmaker[AsyncSession],
    import_id: uuid.UUID,
    older_than_days: int,
    chunk_size: int = PURGE_CHUNK_SIZE,
) -> tuple[bool, int]:
    """Purge one due import, a chunk of records per transaction: whether this call deleted the import,
    and how many records it deleted. It stops early when the import is no longer due or another purger
    holds it (that one carries on)."""
    records = 0
    while True:
        async with session_factory() as session, session.begin():
            repository = RetentionRepository(session)
            if not await repository.lock_due(import_id, older_than_days):
                return False, records
            deleted = await repository.delete_records(import_id, chunk_size)
            records += deleted
            if deleted < chunk_size:
                await repository.delete_import(import_id)
                return True, records


async def purge_expired(
    session_factory: async_sessionmaker[AsyncSession],
    older_than_days: int,
    *,
    chunk_size: int = PURGE_CHUNK_SIZE,
) -> PurgeResult:
    """One purge pass: cancel the idle imports never committed, then purge every due import."""
    result = PurgeResult()
    while True:
        async with session_factory() as session, session.begin():
            cancelled = await RetentionRepository(session).cancel_idle(older_than_days, IMPORTS_PER_QUERY)
        result.idle_cancelled += len(cancelled)
        if len(cancelled) < IMPORTS_PER_QUERY:
            break

    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with session_factory() as session:
            due = await RetentionRepository(session).due(older_than_days, after, IMPORTS_PER_QUERY)
        for _end_time, import_id in due:
            purged, records = await purge_import(session_factory, import_id, older_than_days, chunk_size)
            result.records += records
            result.imports += purged
        if len(due) < IMPORTS_PER_QUERY:
            break
        after = due[-1]

    if result.imports or result.records or result.idle_cancelled:
        logger.info(
            "expired imports purged",
            imports=result.imports,
            records=result.records,
            idle_cancelled=result.idle_cancelled,
            retention_days=older_than_days,
        )
    return result
