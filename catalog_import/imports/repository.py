"""SQL of the import session: imports, staged records, failures and the figures of ``status``."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import BigInteger, Uuid, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.ids import new_id
from catalog_import.imports.stagers.base import StagedRecord
from catalog_import.models import (
    INITIAL_LEVEL_SQL,
    BatchState,
    Import,
    ImportBatch,
    ImportFailure,
    ImportRecord,
    ImportRecordAction,
    ImportRecordCount,
    ImportStatus,
    ImportValidation,
    ImportValidationFailure,
    RecordState,
    ValidationStatus,
    WebhookDelivery,
)
from catalog_import.problems import Severity

# The records of one push are distinct by identity (the last version of each wins before staging).
# Only a constant is interpolated.
STAGE_RECORDS = f"""
INSERT INTO import_records AS r
    (import_id, operation, entity, entity_id, action, natural_key, root, path, batch, payload, refs, level,
     pushed, item_id)
SELECT :import_id, s.operation, s.entity, s.entity_id, s.action, s.natural_key, s.root, s.path, :batch,
       s.payload::jsonb, s.refs::jsonb, {INITIAL_LEVEL_SQL}, s.pushed, s.item_id
FROM unnest(
    CAST(:operations AS text[]), CAST(:entities AS text[]), CAST(:entity_ids AS uuid[]),
    CAST(:actions AS text[]), CAST(:natural_keys AS text[]), CAST(:roots AS boolean[]),
    CAST(:paths AS text[]), CAST(:payloads AS text[]), CAST(:refs AS text[]), CAST(:pushed AS text[]),
    CAST(:item_ids AS uuid[])
) AS s(operation, entity, entity_id, action, natural_key, root, path, payload, refs, pushed, item_id)
ON CONFLICT (import_id, operation, entity, entity_id) DO UPDATE
SET natural_key = coalesce(excluded.natural_key, r.natural_key), root = r.root OR excluded.root,
    path = excluded.path, batch = excluded.batch, payload = excluded.payload, refs = excluded.refs,
    -- A record staged again as a nested creation keeps the item it was pushed as.
    pushed = CASE WHEN excluded.pushed IS NULL AND excluded.item_id IS NULL THEN r.pushed
                  ELSE excluded.pushed END,
    item_id = CASE WHEN excluded.pushed IS NULL AND excluded.item_id IS NULL THEN r.item_id
                   ELSE excluded.item_id END
"""  # noqa: S608


# The item each given root record was pushed as: its own, or that of the record it was staged with (a
# variant's product).
PUSHED_RECORDS = """
SELECT r.record_id, coalesce(r.pushed, i.pushed)
FROM import_records r
LEFT JOIN import_records i
       ON r.item_id IS NOT NULL AND i.import_id = r.import_id AND i.operation = 'upsert'
      AND i.entity = r.entity AND i.entity_id = r.item_id
WHERE r.record_id = ANY(:record_ids)
"""


# The items to push again in a retry: those of the import's failed and skipped root records (a variant's
# is its product's), each once, in the order of the failures (records skipped without one, when the
# import was abandoned, after them). Records staged before items were kept have none and are left out.
RETRY_ITEMS = """
SELECT coalesce(i.record_id, r.record_id)
FROM import_record_outcomes o
JOIN import_records r ON r.record_id = o.record_id
LEFT JOIN import_records i
       ON r.item_id IS NOT NULL AND i.import_id = r.import_id AND i.operation = 'upsert'
      AND i.entity = r.entity AND i.entity_id = r.item_id
LEFT JOIN import_failures f ON f.record_id = r.record_id
WHERE o.import_id = :import_id AND o.state IN ('failed', 'skipped') AND r.root
  AND coalesce(r.pushed, i.pushed) IS NOT NULL
ORDER BY f.number NULLS LAST, r.record_id
"""


@dataclass(frozen=True, slots=True)
class PushedItem:
    """An item of a push body as it was pushed, where it was, and the operation it was pushed for."""

    record_id: int
    operation: str
    batch: int
    path: str
    pushed: Any


# The imports whose figures are asked for, as a table of one ``id`` column.
ImportIds = (
    func.unnest(bindparam("ids", type_=ARRAY(Uuid))).table_valued("id").render_derived(name="import_ids")
)


@dataclass(frozen=True, slots=True)
class RecordCounts:
    total: int
    processed: int
    written_by_entity: dict[str, int]
    failures: int
    level: int | None
    # Webhook messages by delivery state (pending, delivered, failed), and ``last_error``.
    webhooks: dict[str, Any]
    # What the staged records will do at commit: entity → action → records.
    actions: dict[str, dict[str, int]]
    # The imports started as retries of this one, oldest first.
    retried_by: list[uuid.UUID]


FailureRow = TypeVar("FailureRow", ImportFailure, ImportValidationFailure)


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- imports ----------------------------------------------------------------------------------------
    async def insert(self, values: dict[str, Any]) -> Import | None:
        """Insert an import; None when one with the same idempotency key exists already."""
        statement = (
            insert(Import)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["integration_id", "idempotency_key"])
            .returning(Import)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def by_idempotency_key(self, integration_id: uuid.UUID, key: str) -> Import | None:
        return await self.session.scalar(
            select(Import).where(Import.integration_id == integration_id, Import.idempotency_key == key)
        )

    async def get(
        self, import_id: uuid.UUID, integration_id: uuid.UUID, *, lock: bool = False
    ) -> Import | None:
        statement = select(Import).where(
            Import.id == import_id, Import.integration_id == integration_id, Import.rehearsal_of.is_(None)
        )
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalar()

    async def refresh_statistics(self) -> None:
        """Fresh planner statistics of the staged records' columns that lookups filter on."""
        await self.session.execute(
            text("ANALYZE import_records (import_id, operation, entity, entity_id, natural_key)")
        )

    async def next_batch(self, import_id: uuid.UUID) -> int | None:
        """Number the next push of an import still ``started``; None when it is not (any more). The row
        stays locked until the transaction ends."""
        batch = await self.session.scalar(
            update(Import)
            .where(Import.id == import_id, Import.status == ImportStatus.STARTED)
            .values(batch_count=Import.batch_count + 1, last_push_at=func.now())
            .returning(Import.batch_count)
        )
        return None if batch is None else int(batch)

    async def page(
        self, integration_id: uuid.UUID, status: str | None, after: uuid.UUID | None, limit: int
    ) -> Sequence[Import]:
        statement = select(Import).where(
            Import.integration_id == integration_id, Import.rehearsal_of.is_(None)
        )
        if status is not None:
            statement = statement.where(Import.status == status)
        if after is not None:
            statement = statement.where(Import.id < after)
        return (await self.session.scalars(statement.order_by(Import.id.desc()).limit(limit))).all()

    async def count_by_status(self) -> dict[str, int]:
        """How many imports of all integrations are in each status (statuses without any left out)."""
        rows = await self.session.execute(
            select(Import.status, func.count()).where(Import.rehearsal_of.is_(None)).group_by(Import.status)
        )
        return {str(status): int(count) for status, count in rows}

    async def mark_committed(self, import_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(status=ImportStatus.IMPORTING, commit_time=func.now())
        )

    async def mark_cancelled(self, import_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(status=ImportStatus.CANCELLED, end_time=func.now())
        )

    async def delete_staged(self, import_id: uuid.UUID) -> None:
        await self.session.execute(delete(ImportFailure).where(ImportFailure.import_id == import_id))
        await self.session.execute(delete(ImportRecord).where(ImportRecord.import_id == import_id))

    # -- staged records -------------------------------------------------------------------------------
    async def stage(self, import_id: uuid.UUID, batch: int, records: Sequence[StagedRecord]) -> None:
        """Insert staged records; one staged again with the same identity replaces the earlier one but
        keeps its action (and a record once staged as a root stays one). One statement per push, its
        columns passed as arrays: a push of a thousand products costs one round trip, not one per row."""
        if not records:
            return
        await self.session.execute(
            text(STAGE_RECORDS),
            {
                "import_id": import_id,
                "batch": batch,
                "operations": [record.operation.value for record in records],
                "entities": [record.entity for record in records],
                "entity_ids": [record.entity_id for record in records],
                "actions": [record.action.value for record in records],
                "natural_keys": [record.natural_key for record in records],
                "roots": [record.root for record in records],
                "paths": [record.path for record in records],
                "payloads": [orjson.dumps(record.payload).decode() for record in records],
                "refs": [orjson.dumps([ref.to_json() for ref in record.refs]).decode() for record in records],
                "pushed": [record.pushed for record in records],
                "item_ids": [record.item_id for record in records],
            },
        )

    # -- status -----------------------------------------------------------------------------------------
    async def counts(self, import_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RecordCounts]:
        """Progress, totals and webhook deliveries of several imports. The records are not counted one by
        one: their counts per entity and state are kept in ``import_record_counts``, pending ones by the
        triggers on the staged records, settled ones by the committer."""
        rows = await self.session.execute(
            select(
                ImportRecordCount.import_id,
                ImportRecordCount.entity,
                ImportRecordCount.state,
                func.sum(ImportRecordCount.records),
            )
            .where(ImportRecordCount.import_id.in_(import_ids))
            .group_by(ImportRecordCount.import_id, ImportRecordCount.entity, ImportRecordCount.state)
        )
        # The highest level with batches left to write: the first entry of the pending batches' index.
        pending = (
            select(func.max(ImportBatch.level))
            .where(ImportBatch.import_id == ImportIds.c.id, ImportBatch.state == BatchState.PENDING)
            .scalar_subquery()
        )
        levels: dict[uuid.UUID, int | None] = dict(
            (await self.session.execute(select(ImportIds.c.id, pending), {"ids": list(import_ids)})).all()
        )
        failure_rows = await self.session.execute(
            select(ImportFailure.import_id, func.count())
            # Failed roots only: entries that carry warnings alone were written (or skipped) all the same.
            .where(ImportFailure.import_id.in_(import_ids), ImportFailure.severity_code <= Severity.ERROR)
            .group_by(ImportFailure.import_id)
        )
        failures: dict[uuid.UUID, int] = dict(failure_rows.all())
        webhook_rows = await self.session.execute(
            select(WebhookDelivery.import_id, WebhookDelivery.state, func.count())
            .where(WebhookDelivery.import_id.in_(import_ids))
            .group_by(WebhookDelivery.import_id, WebhookDelivery.state)
        )
        webhooks: dict[uuid.UUID, dict[str, Any]] = {}
        for import_id, state, count in webhook_rows:
            webhooks.setdefault(import_id, {})[state] = count
        # Why the latest message that has not been delivered failed its last attempt, if one did.
        last_errors = await self.session.execute(
            select(WebhookDelivery.import_id, WebhookDelivery.last_error)
            .where(WebhookDelivery.import_id.in_(import_ids), WebhookDelivery.last_error.is_not(None))
            .order_by(WebhookDelivery.import_id, WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .ext(distinct_on(WebhookDelivery.import_id))
        )
        for import_id, last_error in last_errors:
            webhooks.setdefault(import_id, {})["last_error"] = last_error
        action_rows = await self.session.execute(
            select(
                ImportRecordAction.import_id,
                ImportRecordAction.entity,
                ImportRecordAction.action,
                func.sum(ImportRecordAction.records),
            )
            .where(ImportRecordAction.import_id.in_(import_ids))
            .group_by(ImportRecordAction.import_id, ImportRecordAction.entity, ImportRecordAction.action)
            .having(func.sum(ImportRecordAction.records) != 0)
        )
        actions: dict[uuid.UUID, dict[str, dict[str, int]]] = {}
        for import_id, entity, action, count in action_rows:
            actions.setdefault(import_id, {}).setdefault(entity, {})[action] = int(count)
        retries: dict[uuid.UUID, list[uuid.UUID]] = {}
        retry_rows = await self.session.execute(
            select(Import.retry_of, Import.id)
            .where(Import.retry_of.in_(import_ids))
            .order_by(Import.retry_of, Import.start_time, Import.id)
        )
        for retry_of, retry_id in retry_rows:
            if retry_of is not None:
                retries.setdefault(retry_of, []).append(retry_id)
        totals: dict[uuid.UUID, dict[str, Any]] = {
            import_id: {"total": 0, "processed": 0, "written": {}} for import_id in import_ids
        }
        for import_id, entity, state, count in rows:
            figures = totals[import_id]
            figures["total"] += count
            if state != RecordState.PENDING:
                figures["processed"] += count
            if state == RecordState.WRITTEN and count:
                figures["written"][entity] = count
        return {
            import_id: RecordCounts(
                total=figures["total"],
                processed=figures["processed"],
                written_by_entity=figures["written"],
                failures=failures.get(import_id, 0),
                level=levels.get(import_id),
                webhooks=webhooks.get(import_id, {}),
                actions=actions.get(import_id, {}),
                retried_by=retries.get(import_id, []),
            )
            for import_id, figures in totals.items()
        }

    async def failures(
        self, import_id: uuid.UUID, *, after: int | None, limit: int, max_severity_code: int = 7
    ) -> Sequence[ImportFailure]:
        """A page of the import's failures, in number order."""
        return await self._failures(ImportFailure, import_id, after, limit, max_severity_code)

    async def validation_failures(
        self, import_id: uuid.UUID, *, after: int | None, limit: int, max_severity_code: int = 7
    ) -> Sequence[ImportValidationFailure]:
        """A page of the failures of the import's latest validation, in number order."""
        return await self._failures(ImportValidationFailure, import_id, after, limit, max_severity_code)

    async def _failures(
        self, model: type[FailureRow], import_id: uuid.UUID, after: int | None, limit: int, max_code: int
    ) -> Sequence[FailureRow]:
        statement = select(model).where(model.import_id == import_id, model.severity_code <= max_code)
        if after is not None:
            statement = statement.where(model.number > after)
        return (await self.session.scalars(statement.order_by(model.number).limit(limit))).all()

    # -- validations ------------------------------------------------------------------------------------
    async def validation(self, import_id: uuid.UUID) -> ImportValidation | None:
        """The latest validation of the import."""
        return await self.session.get(ImportValidation, import_id, populate_existing=True)

    async def start_validation(self, import_id: uuid.UUID) -> uuid.UUID:
        """A new validation of the import, running, covering the records staged so far; it replaces the
        latest one and its failures. Returns its id."""
        validation_id = new_id()
        values = {
            "id": validation_id,
            "status": ValidationStatus.RUNNING.value,
            "start_time": func.now(),
            "end_time": None,
            "last_record": select(func.coalesce(func.max(ImportRecord.record_id), 0))
            .where(ImportRecord.import_id == import_id)
            .scalar_subquery(),
            "totals": None,
            "heartbeat_at": func.now(),
        }
        await self.session.execute(
            insert(ImportValidation)
            .values(import_id=import_id, **values)
            .on_conflict_do_update(index_elements=["import_id"], set_=values)
        )
        await self.session.execute(
            delete(ImportValidationFailure).where(ImportValidationFailure.import_id == import_id)
        )
        return validation_id

    async def pushed_records(self, record_ids: Sequence[int]) -> dict[int, Any]:
        """The items of the push bodies the given root records were pushed as, by record; records staged
        before the items were kept are left out."""
        rows = await self.session.execute(
            text(PUSHED_RECORDS).bindparams(bindparam("record_ids", type_=ARRAY(BigInteger))),
            {"record_ids": list(record_ids)},
        )
        return {record_id: orjson.loads(pushed) for record_id, pushed in rows if pushed is not None}

    async def retry_items(self, import_id: uuid.UUID) -> list[int]:
        """The records holding the items a retry of the import pushes again, in the order it pushes them."""
        rows = await self.session.scalars(text(RETRY_ITEMS), {"import_id": import_id})
        return list(dict.fromkeys(rows))

    async def pushed_items(self, record_ids: Sequence[int]) -> list[PushedItem]:
        """The items the given records hold, in the order given."""
        rows = await self.session.execute(
            select(
                ImportRecord.record_id,
                ImportRecord.operation,
                ImportRecord.batch,
                ImportRecord.path,
                ImportRecord.pushed,
            ).where(ImportRecord.record_id.in_(record_ids), ImportRecord.pushed.is_not(None))
        )
        found = {
            record_id: PushedItem(record_id, operation, batch, path, orjson.loads(pushed or "null"))
            for record_id, operation, batch, path, pushed in rows
        }
        return [found[record_id] for record_id in record_ids if record_id in found]

    async def failures_by_id(self, failure_ids: Sequence[int]) -> Sequence[ImportFailure]:
        """The given failures, in the order they were found."""
        statement = select(ImportFailure).where(ImportFailure.failure_id.in_(failure_ids))
        return (await self.session.scalars(statement.order_by(ImportFailure.failure_id))).all()
