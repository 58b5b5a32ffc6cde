"""SQL of the workers: claiming the next batch and reading its records, marking it done, the record counts,
finishing, the leases that tell a live worker's import from a dead one's, and a validation's rehearsal."""

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import ClaimedRecord
from catalog_import.ids import new_id
from catalog_import.models import (
    DOWNLOADS_SQL,
    REHEARSAL_STATUS,
    BatchState,
    Import,
    ImportBatch,
    ImportRecord,
    ImportRecordCount,
    ImportStatus,
    ImportValidation,
    ImportValidationFailure,
    MediaFailure,
    RecordState,
    RunnerLease,
    ValidationStatus,
    in_done_batch,
)

# The next batch of the highest level with batches left, that no other runner holds. A level is written
# only once every batch above it is done: a level still held by others gives nothing, and its runner waits.
CLAIM_BATCH = """
SELECT b.id, b.level, b.first_record, b.last_record, b.media
FROM import_batches b
WHERE b.import_id = :import_id AND b.state = 'pending' AND (b.media IS TRUE OR NOT :media_only)
  AND b.level = (SELECT max(p.level) FROM import_batches p
                 WHERE p.import_id = :import_id AND p.state = 'pending')
ORDER BY b.first_record
LIMIT 1
FOR UPDATE SKIP LOCKED
"""

# A batch's records still to write: those settled before it (failed when the commit was prepared, or
# settled before an upgrade) have an outcome already.
BATCH_RECORDS = f"""
SELECT r.record_id, r.operation, r.entity, r.entity_id, r.action, r.path, r.root
FROM import_records r
WHERE r.import_id = :import_id AND r.level = :level AND r.record_id BETWEEN :first AND :last
  AND (CAST(:media AS boolean) IS NULL OR {DOWNLOADS_SQL} = :media)
  AND NOT EXISTS (SELECT 1 FROM import_record_outcomes o WHERE o.record_id = r.record_id)
ORDER BY r.record_id
"""  # noqa: S608 (only a constant is interpolated)

# The records of an abandoned import that are neither settled nor in a batch that is done: skipped.
SKIP_UNSETTLED = f"""
INSERT INTO import_record_outcomes (record_id, import_id, entity, state)
SELECT r.record_id, r.import_id, r.entity, 'skipped'
FROM import_records r
WHERE r.import_id = :import_id
  AND NOT EXISTS (SELECT 1 FROM import_record_outcomes o WHERE o.record_id = r.record_id)
  AND NOT {in_done_batch("r")}
RETURNING entity
"""  # noqa: S608 (only a constant is interpolated)

# Every staged record of an import and its state, derived from the outcomes and the batches.
RECORD_STATES = f"""
SELECT r.record_id, r.entity,
       coalesce(o.state, CASE WHEN {in_done_batch("r")} THEN 'written' ELSE 'pending' END) AS state,
       o.problems
FROM import_records r
LEFT JOIN import_record_outcomes o ON o.record_id = r.record_id
WHERE r.import_id = :import_id
"""  # noqa: S608 (only a constant is interpolated)

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


@dataclass(frozen=True, slots=True)
class ClaimedBatch:
    id: int
    level: int
    first_record: int
    last_record: int
    # See ``ImportBatch.media``.
    media: bool | None


class StagedRecordState(NamedTuple):
    entity: str
    state: str
    problems: list[dict[str, Any]] | None


class CommitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_batch(self, import_id: uuid.UUID, *, media_only: bool = False) -> ClaimedBatch | None:
        """Lock the next batch to write (see ``CLAIM_BATCH``), or the next batch of media records; None
        when there is none or when every such batch of the current level is in other runners' hands."""
        params = {"import_id": import_id, "media_only": media_only}
        row = (await self.session.execute(text(CLAIM_BATCH), params)).one_or_none()
        return ClaimedBatch(*row) if row else None

    async def has_pending_batches(self, import_id: uuid.UUID) -> bool:
        return bool(
            await self.session.scalar(
                select(
                    select(ImportBatch.id)
                    .where(ImportBatch.import_id == import_id, ImportBatch.state == BatchState.PENDING)
                    .exists()
                )
            )
        )

    async def batch_records(
        self, import_id: uuid.UUID, batch: ClaimedBatch
    ) -> list[tuple[str, ClaimedRecord]]:
        """The records of a claimed batch still to write, in record order, with their operations."""
        result = await self.session.execute(
            text(BATCH_RECORDS),
            {
                "import_id": import_id,
                "level": batch.level,
                "first": batch.first_record,
                "last": batch.last_record,
                "media": batch.media,
            },
        )
        return [
            (operation, ClaimedRecord(record_id, entity, entity_id, action, path, root))
            for record_id, operation, entity, entity_id, action, path, root in result
        ]

    async def mark_batch_done(self, batch_id: int, records: int) -> None:
        """Mark a batch done (in its transaction), with how many records it settled."""
        await self.session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(state=BatchState.DONE, records=records, written_at=func.clock_timestamp())
        )

    async def count_moved(
        self, import_id: uuid.UUID, by_entity: Mapping[str, int], before: str, after: str
    ) -> None:
        """Count records of each entity moved from state ``before`` to ``after``."""
        rows = [
            {"import_id": import_id, "entity": entity, "state": state, "records": change}
            for entity, records in sorted(by_entity.items())
            if records
            for state, change in ((before, -records), (after, records))
        ]
        if rows:
            await self.session.execute(insert(ImportRecordCount), rows)

    async def record_states(self, import_id: uuid.UUID) -> dict[int, "StagedRecordState"]:
        """Each staged record's entity, state (pending, written, failed, skipped) and problems."""
        result = await self.session.execute(text(RECORD_STATES), {"import_id": import_id})
        return {record_id: StagedRecordState(*rest) for record_id, *rest in result}

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

    async def media_failure(self, import_id: uuid.UUID) -> MediaFailure:
        """What a media that cannot be downloaded does to its root in this import (``mediaFailure``)."""
        chosen = await self.session.scalar(select(Import.media_failure).where(Import.id == import_id))
        return MediaFailure(chosen or MediaFailure.FAIL)

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

    async def skip_unsettled(self, import_id: uuid.UUID) -> None:
        """Skip what is left of an abandoned import: its records not settled, and its pending batches."""
        skipped = (await self.session.scalars(text(SKIP_UNSETTLED), {"import_id": import_id})).all()
        await self.count_moved(import_id, Counter(skipped), RecordState.PENDING, RecordState.SKIPPED)
        await self.session.execute(
            update(ImportBatch)
            .where(ImportBatch.import_id == import_id, ImportBatch.state == BatchState.PENDING)
            .values(state=BatchState.SKIPPED)
        )


def seconds_interval(seconds: float) -> ColumnElement[Any]:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds)


# -- validations (rehearsals of a commit) -----------------------------------------------------------------

# The columns of a staged record that its copy takes over as they are: all but its id and its import.
COPIED_RECORD_COLUMNS = ", ".join(
    column.name for column in ImportRecord.__table__.columns if column.name not in ("record_id", "import_id")
)

# The import's copy for a rehearsal: same settings, no webhooks, no idempotency key; committed with a
# status of its own, made ``importing`` only inside the rehearsal's transaction.
COPY_IMPORT = """
INSERT INTO imports (id, integration_id, name, status, defer_references, media_failure, batch_count,
                     last_push_at, start_time, rehearsal_of)
SELECT :copy_id, integration_id, name, :status, defer_references, media_failure, batch_count, last_push_at,
       now(), id
FROM imports WHERE id = :import_id AND status = 'started'
RETURNING id
"""

# Its staged records up to the validation's last one, in their order (which the commit's batches and
# failures follow): the copy's records get new ids in that same order.
COPY_RECORDS = f"""
INSERT INTO import_records (import_id, {COPIED_RECORD_COLUMNS})
SELECT :copy_id, {COPIED_RECORD_COLUMNS} FROM import_records
WHERE import_id = :import_id AND record_id <= :last_record
ORDER BY record_id
"""  # noqa: S608 (only the model's column names are interpolated)

# A page of the copy's failures, each with the record of the import that its record copies.
COPY_FAILURES = """
SELECT f.number, o.record_id, f.entity, f.entity_id, f.path, f.batch, f.severity_code, f.details
FROM import_failures f
LEFT JOIN import_records c ON c.record_id = f.record_id
LEFT JOIN import_records o
       ON o.import_id = :import_id AND o.operation = c.operation AND o.entity = c.entity
      AND o.entity_id = c.entity_id
WHERE f.import_id = :copy_id AND f.number > :after
ORDER BY f.number
LIMIT :limit
"""


class ValidationFailure(NamedTuple):
    number: int
    record_id: int | None
    entity: str
    entity_id: uuid.UUID | None
    path: str | None
    batch: int | None
    severity_code: int
    details: list[dict[str, Any]]


class RehearsalRepository:
    """SQL of a validation: the copy of the import its commit is rehearsed on, and the validation's row
    and failures, which outlive the rehearsal."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, import_id: uuid.UUID, validation_id: uuid.UUID) -> ImportValidation | None:
        """The validation, if it is still the import's latest and running; locked to the transaction's end."""
        return await self.session.scalar(
            select(ImportValidation)
            .where(
                ImportValidation.import_id == import_id,
                ImportValidation.id == validation_id,
                ImportValidation.status == ValidationStatus.RUNNING,
            )
            .with_for_update()
        )

    async def heartbeat(self, validation_id: uuid.UUID) -> None:
        await self.session.execute(
            update(ImportValidation)
            .where(ImportValidation.id == validation_id)
            .values(heartbeat_at=func.now())
        )

    async def stalled(self, older_than_seconds: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """The running validations whose worker has shown no sign of life for a while, as (import,
        validation) ids; each is claimed (its heartbeat set) so that one check queues it again."""
        cutoff = func.now() - seconds_interval(older_than_seconds)
        rows = await self.session.execute(
            update(ImportValidation)
            .where(
                ImportValidation.status == ValidationStatus.RUNNING, ImportValidation.heartbeat_at < cutoff
            )
            .values(heartbeat_at=func.now())
            .returning(ImportValidation.import_id, ImportValidation.id)
        )
        return [(import_id, validation_id) for import_id, validation_id in rows]

    async def drop_copies(self, import_id: uuid.UUID) -> None:
        """Delete the import's rehearsal copies (with everything in them)."""
        await self.session.execute(delete(Import).where(Import.rehearsal_of == import_id))

    async def drop_copy(self, copy_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(Import).where(Import.id == copy_id, Import.rehearsal_of.is_not(None))
        )

    async def copy_import(self, import_id: uuid.UUID, last_record: int) -> uuid.UUID | None:
        """A copy of the import holding its staged records up to ``last_record``; None if the import is
        no longer ``started``."""
        copy_id = new_id()
        params = {"import_id": import_id, "copy_id": copy_id}
        copied = await self.session.scalar(text(COPY_IMPORT), {**params, "status": REHEARSAL_STATUS})
        if copied is None:
            return None
        await self.session.execute(text(COPY_RECORDS), {**params, "last_record": last_record})
        return copy_id

    async def start_rehearsal(self, copy_id: uuid.UUID) -> None:
        """The copy committed, inside the rehearsal's transaction."""
        await self.session.execute(
            update(Import)
            .where(Import.id == copy_id)
            .values(status=ImportStatus.IMPORTING, commit_time=func.now())
        )

    async def copy_failures(
        self, import_id: uuid.UUID, copy_id: uuid.UUID, *, after: int, limit: int
    ) -> list[ValidationFailure]:
        rows = await self.session.execute(
            text(COPY_FAILURES), {"import_id": import_id, "copy_id": copy_id, "after": after, "limit": limit}
        )
        return [ValidationFailure(*row) for row in rows]

    async def add_failures(self, import_id: uuid.UUID, failures: Sequence[ValidationFailure]) -> None:
        if failures:
            await self.session.execute(
                insert(ImportValidationFailure), [{"import_id": import_id, **f._asdict()} for f in failures]
            )

    async def finish(self, import_id: uuid.UUID, totals: Mapping[str, int]) -> None:
        await self.session.execute(
            update(ImportValidation)
            .where(ImportValidation.import_id == import_id)
            .values(status=ValidationStatus.DONE, end_time=func.now(), totals=dict(totals))
        )
