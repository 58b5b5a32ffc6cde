"""SQL of the dashboard that the import session's repository has no use for: the signed-in integration,
an import's failures filtered by entity as well as severity, and the batches a commit has written so
far, with the time each was written, for the throughput chart."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.models import BatchState, ImportBatch, ImportFailure, Integration

TIME_SPAN = """
SELECT i.commit_time, coalesce(i.end_time, now()) FROM imports i
WHERE i.id = :import_id AND i.commit_time IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class SettledBatch:
    records: int
    # When it was written (its transaction committed right after).
    at: datetime


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
            statement = statement.where(ImportFailure.number > after)
        return (await self.session.scalars(statement.order_by(ImportFailure.number).limit(limit))).all()

    async def time_span(self, import_id: uuid.UUID) -> tuple[datetime, datetime] | None:
        """From the commit to the end (or to now while importing), by the database's clock; None before
        the commit."""
        row = (await self.session.execute(text(TIME_SPAN), {"import_id": import_id})).one_or_none()
        return (row[0], row[1]) if row else None

    async def settled_batches(self, import_id: uuid.UUID) -> list[SettledBatch]:
        """The batches written so far, in the order they were written."""
        rows = await self.session.execute(
            select(ImportBatch.records, ImportBatch.written_at)
            .where(
                ImportBatch.import_id == import_id,
                ImportBatch.state == BatchState.DONE,
                ImportBatch.written_at.is_not(None),
            )
            .order_by(ImportBatch.written_at, ImportBatch.id)
        )
        return [SettledBatch(records, at) for records, at in rows if at is not None]
