"""SQL of the dashboard that the import session's repository has no use for: the signed-in integration,
an import's failures filtered by entity as well as severity, and the batches a commit has written so
far, with the time each was written, for the throughput chart."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.models import ImportFailure, Integration

# Every batch is written in one transaction together with the new state of its records, so the records
# one transaction settled (the same ``xmin``) are one batch, and transaction ids give their order. The
# time of a batch is its transaction's ``now()``, found in the rows it wrote: the failures it recorded
# (``created_at``) and the catalog rows it created or changed (``updated_at``); a catalog row changed
# again since (by a later import) falls outside the import's time span or is outvoted by ``min``.
# Batches that left no such row (no-op updates, deletes, unassigns) have no time here; the caller
# places them between their neighbours.
SETTLED_BATCHES = """
WITH settled AS (
    SELECT r.record_id, r.entity, r.entity_id, r.state, r.xmin::text AS tx, age(r.xmin) AS age
    FROM import_records r
    WHERE r.import_id = :import_id AND r.state <> 'pending'
),
written AS (
    SELECT tx, entity, entity_id FROM settled WHERE state = 'written'
),
stamps AS (
    SELECT s.tx, f.created_at AS at FROM settled s JOIN import_failures f ON f.record_id = s.record_id
    UNION ALL
    SELECT w.tx, c.updated_at FROM written w JOIN products c ON w.entity = 'product' AND c.id = w.entity_id
    UNION ALL
    SELECT w.tx, c.updated_at FROM written w JOIN categories c ON w.entity = 'category' AND c.id = w.entity_id
    UNION ALL
    SELECT w.tx, c.updated_at FROM written w JOIN media c ON w.entity = 'media' AND c.id = w.entity_id
    UNION ALL
    SELECT w.tx, c.updated_at FROM written w JOIN taxes c ON w.entity = 'tax' AND c.id = w.entity_id
    UNION ALL
    SELECT w.tx, c.updated_at FROM written w
    JOIN custom_entity_records c ON w.entity = 'custom_entity' AND c.id = w.entity_id
),
batch_times AS (
    SELECT tx, min(at) AS at FROM stamps WHERE at BETWEEN :since AND :until GROUP BY tx
),
batches AS (
    SELECT tx, max(age) AS age, count(*) AS records FROM settled GROUP BY tx
)
SELECT b.records, t.at
FROM batches b LEFT JOIN batch_times t ON t.tx = b.tx
ORDER BY b.age DESC
"""

TIME_SPAN = """
SELECT i.commit_time, coalesce(i.end_time, now()) FROM imports i
WHERE i.id = :import_id AND i.commit_time IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class SettledBatch:
    records: int
    # When its transaction started; None when nothing it wrote tells.
    at: datetime | None


class DashboardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def integration(self, integration_id: uuid.UUID) -> Integration | None:
        return await self.session.get(Integration, integration_id)

    async def failures(
        self,
        import_id: uuid.UUID,
        *,
        entity: str | None,
        max_severity_code: int,
        after: int | None,
        limit: int,
    ) -> Sequence[ImportFailure]:
        """The import's failures of this entity (any when None) and severity or worse, in the order they
        were found, after failure number ``after``."""
        statement = select(ImportFailure).where(
            ImportFailure.import_id == import_id, ImportFailure.severity_code <= max_severity_code
        )
        if entity is not None:
            statement = statement.where(ImportFailure.entity == entity)
        if after is not None:
            statement = statement.where(ImportFailure.failure_id > after)
        return (await self.session.scalars(statement.order_by(ImportFailure.failure_id).limit(limit))).all()

    async def time_span(self, import_id: uuid.UUID) -> tuple[datetime, datetime] | None:
        """From the commit to the end (or to now while importing), by the database's clock; None before
        the commit."""
        row = (await self.session.execute(text(TIME_SPAN), {"import_id": import_id})).one_or_none()
        return (row[0], row[1]) if row else None

    async def settled_batches(
        self, import_id: uuid.UUID, since: datetime, until: datetime
    ) -> list[SettledBatch]:
        """The batches written so far, in the order they were written."""
        rows = await self.session.execute(
            text(SETTLED_BATCHES), {"import_id": import_id, "since": since, "until": until}
        )
        return [SettledBatch(int(records), at) for records, at in rows]
