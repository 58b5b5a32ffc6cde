"""An import's status as the API shows it (CONTRACT §5), from its row and its counts: for ``status``, the
list of imports, the event stream and the status webhook."""

from datetime import UTC, datetime

from pydantic import JsonValue

from catalog_import.imports import schemas
from catalog_import.imports.repository import RecordCounts
from catalog_import.models import Import, ImportFailure, ImportStatus, ImportValidationFailure


def failure_schema(
    failure: ImportFailure | ImportValidationFailure, record: JsonValue = None
) -> schemas.Failure:
    return schemas.Failure(
        entity=failure.entity,
        id=failure.entity_id,
        path=failure.path,
        batch=failure.batch,
        details=[
            schemas.FailureDetail(
                severity=detail["severity"],
                severity_code=detail["severityCode"],
                code=detail["code"],
                entity=detail.get("entity") or failure.entity,
                path=detail.get("path"),
                message=detail["message"],
            )
            for detail in failure.details
        ],
        record=record,
    )


def summary(
    import_: Import, counts: RecordCounts, stalled_after_seconds: float | None = None
) -> schemas.ImportSummary:
    """The import's status without failures; an importing import is judged stalled after
    ``stalled_after_seconds`` without progress (None: an ended import's summary, never stalled)."""
    now = datetime.now(UTC)
    if import_.commit_time is None:
        duration = 0.0
    else:
        end = import_.end_time or now
        duration = round(max((end - import_.commit_time).total_seconds(), 0.0), 3)
    last_progress_at = None
    stalled = False
    if import_.status == ImportStatus.IMPORTING:
        last_progress_at = import_.heartbeat_at or import_.commit_time
        stalled = (
            stalled_after_seconds is not None
            and last_progress_at is not None
            and (now - last_progress_at).total_seconds() > stalled_after_seconds
        )
    written = counts.written_by_entity
    return schemas.ImportSummary(
        id=import_.id,
        name=import_.name,
        status=ImportStatus(import_.status),
        start_time=import_.start_time,
        commit_time=import_.commit_time,
        end_time=import_.end_time,
        duration=duration,
        progress=schemas.Progress(
            total=counts.total,
            processed=counts.processed,
            level=counts.level
            if import_.status == ImportStatus.IMPORTING and (counts.level or 0) >= 0
            else None,
            levels=import_.levels,
        ),
        totals=schemas.Totals(
            product=written.get("product", 0),
            media=written.get("media", 0),
            category=written.get("category", 0),
            tax=written.get("tax", 0),
            total=sum(written.values()),
            failures=counts.failures,
        ),
        webhooks=schemas.WebhookCounts(**counts.webhooks),
        actions={
            entity: schemas.EntityActions(**actions) for entity, actions in sorted(counts.actions.items())
        },
        last_progress_at=last_progress_at,
        stalled=stalled,
        retry_of=import_.retry_of,
        retried_by=counts.retried_by,
    )
