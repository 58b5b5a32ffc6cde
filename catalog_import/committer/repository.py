"""SQL of the workers: which level is next, claiming a batch of it, settling records, finishing, and the
leases that tell a live worker's import from a dead one's."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import ClaimedRecord
from catalog_import.models import Import, ImportBatch, ImportRecord, ImportStatus, RecordState, RunnerLease

CLAIM = """
SELECT record_id, operation, entity, entity_id, action, path, root
FROM import_records
WHERE import_id = :import_id AND state = 'pending' AND level = :level AND record_id > :after
ORDER BY record_id
LIMIT :limit
FOR UPDATE SKIP LOCKED
"""

# Leases that ran out, given up (each to one caller, however many look at once): the imports still
# importing that no live lease is left on are those whose workers are gone.
TAKE_EXPIRED_LEASES = """
WITH expired AS (
    DELETE FROM runner_leases WHERE expires_at < clock_timestamp() RETURNING import_id
)
SELECT DISTINCT e.import_id
FROM expired e JOIN imports i ON i.id = e.import_id
WHERE i.status = 'importing'
  AND NOT EXISTS (
      SELECT 1 FROM runner_leases l WHERE l.import_id = e.import_id AND l.expires_at >= clock_timestamp()
  )
"""

# The changes in record counts of a finished import, replaced by their sums.
SUM_UP_COUNTS = """
WITH changes AS (
    DELETE FROM import_record_counts WHERE import_id = :import_id RETURNING entity, state, records
)
INSERT INTO import_record_counts (import_id, entity, state, records)
SELECT :import_id, entity, state, sum(records) FROM changes GROUP BY entity, state HAVING sum(records) <> 0
"""


class CommitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current_level(self, import_id: uuid.UUID) -> int | None:
        """The highest level with records not settled yet (some may be in another worker's hands)."""
        return await self.session.scalar(
            select(func.max(ImportRecord.level)).where(
                ImportRecord.import_id == import_id, ImportRecord.state == RecordState.PENDING
            )
        )

    async def claim(
        self, import_id: uuid.UUID, level: int, limit: int, after: int = 0
    ) -> list[tuple[str, ClaimedRecord]]:
        """Lock up to ``limit`` pending records of ``level`` after record ``after`` that no other worker
        holds, in record order."""
        result = await self.session.execute(
            text(CLAIM), {"import_id": import_id, "level": level, "limit": limit, "after": after}
        )
        return [
            (operation, ClaimedRecord(record_id, entity, entity_id, action, path, root))
            for record_id, operation, entity, entity_id, action, path, root in result
        ]

    async def mark_written(self, record_ids: Sequence[int]) -> None:
        if record_ids:
            statement = text(
                "UPDATE import_records SET state = 'written' WHERE record_id = ANY(:ids)"
            ).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
            await self.session.execute(statement, {"ids": list(record_ids)})

    async def record_batch(self, import_id: uuid.UUID, records: int) -> None:
        """Note a batch written (in its transaction) and how many records it settled."""
        await self.session.execute(insert(ImportBatch).values(import_id=import_id, records=records))

    async def heartbeat(self, import_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Import).where(Import.id == import_id).values(heartbeat_at=func.now())
        )

    async def finish(self, import_id: uuid.UUID) -> bool:
        """Mark the import done and sum its record counts up; True for the one caller that did it."""
        finished = await self.session.scalar(
            update(Import)
            .where(Import.id == import_id, Import.status == ImportStatus.IMPORTING)
            .values(status=ImportStatus.DONE, end_time=func.now())
            .returning(Import.id)
        )
        if finished is not None:
            await self.session.execute(text(SUM_UP_COUNTS), {"import_id": import_id})
        return finished is not None

    async def status(self, import_id: uuid.UUID) -> str | None:
        return await self.session.scalar(select(Import.status).where(Import.id == import_id))

    async def stalled(self, older_than_seconds: int) -> list[uuid.UUID]:
        """Imports being imported on which no worker has made progress for a while and no live worker
        holds a lease (one whose job was lost before it started, with a Redis that restarted empty)."""
        cutoff = func.now() - seconds_interval(older_than_seconds)
        live_lease = select(RunnerLease.id).where(
            RunnerLease.import_id == Import.id, RunnerLease.expires_at >= func.now()
        )
        return list(
            (
                await self.session.scalars(
                    select(Import.id).where(
                        Import.status == ImportStatus.IMPORTING,
                        func.coalesce(Import.heartbeat_at, Import.commit_time) < cutoff,
                        ~live_lease.exists(),
                    )
                )
            ).all()
        )

    async def take_lease(self, lease_id: uuid.UUID, import_id: uuid.UUID, seconds: float) -> None:
        await self.session.execute(
            insert(RunnerLease).values(
                id=lease_id,
                import_id=import_id,
                expires_at=func.clock_timestamp() + seconds_interval(seconds),
            )
        )

    async def renew_leases(self, lease_ids: Sequence[uuid.UUID], seconds: float) -> None:
        await self.session.execute(
            update(RunnerLease)
            .where(RunnerLease.id.in_(lease_ids))
            .values(expires_at=func.clock_timestamp() + seconds_interval(seconds))
        )

    async def drop_lease(self, lease_id: uuid.UUID) -> None:
        await self.session.execute(delete(RunnerLease).where(RunnerLease.id == lease_id))

    async def take_expired_leases(self) -> list[uuid.UUID]:
        """Give up the leases that ran out; the importing imports left without a live one."""
        return list((await self.session.scalars(text(TAKE_EXPIRED_LEASES))).all())

    async def skip_pending(self, import_id: uuid.UUID) -> None:
        await self.session.execute(
            update(ImportRecord)
            .where(ImportRecord.import_id == import_id, ImportRecord.state == RecordState.PENDING)
            .values(state=RecordState.SKIPPED)
        )


def seconds_interval(seconds: float) -> ColumnElement[Any]:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds)
