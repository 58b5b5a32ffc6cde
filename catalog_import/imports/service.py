"""The rules of an import session: the lifecycle state machine, pushes (validate, resolve, stage) and
status. Services never commit; the request boundary does."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.addresses import AddressPolicy, ForbiddenAddress
from catalog_import.db import constraint_name
from catalog_import.errors import (
    IdempotencyKeyReused,
    ImportAlreadyCommitted,
    ImportCancelled,
    ImportNotDone,
    ImportNotFound,
    InvalidImport,
    NothingToRetry,
    ValidationRunning,
)
from catalog_import.ids import new_id
from catalog_import.imports import schemas, webhook_messages
from catalog_import.imports.body import (
    PushLimits,
    collections_of,
    count_root_records,
    count_staged_records,
    parse_json,
)
from catalog_import.imports.repository import ImportRepository, PushedItem
from catalog_import.imports.stagers import (
    STAGERS,
    RecordOutcome,
    Rejected,
    RootItem,
    StagedRecord,
    Stager,
    Staging,
)
from catalog_import.imports.views import failure_schema, summary
from catalog_import.metrics import count_pushed
from catalog_import.models import (
    Import,
    ImportFailure,
    ImportStatus,
    ImportValidation,
    ImportValidationFailure,
    Operation,
    ValidationStatus,
)
from catalog_import.pagination import encode_cursor, id_after, number_after
from catalog_import.problems import Problem, Severity
from catalog_import.resolvers.lookups import Lookups
from catalog_import.schemas import Page

logger = structlog.get_logger(__name__)

STATUS_FAILURE_LIMIT = 100

# -- lifecycle ----------------------------------------------------------------------------------------


async def start_import(
    session: AsyncSession,
    integration_id: uuid.UUID,
    config: schemas.ImportConfig,
    idempotency_key: str | None,
    policy: AddressPolicy,
) -> Import:
    refuse_forbidden_webhooks(config, policy)
    repository = ImportRepository(session)
    settings = {
        "name": config.name,
        "error_webhook_url": str(config.error_webhook_url) if config.error_webhook_url else None,
        "status_webhook_url": str(config.status_webhook_url) if config.status_webhook_url else None,
        "defer_references": config.defer_references,
        "media_failure": config.media_failure.value,
    }
    created = await repository.insert(
        {
            "id": new_id(),
            "integration_id": integration_id,
            "status": ImportStatus.STARTED,
            "idempotency_key": idempotency_key,
            **settings,
        }
    )
    if created is not None:
        return created
    assert idempotency_key is not None
    existing = await repository.by_idempotency_key(integration_id, idempotency_key)
    assert existing is not None
    if any(getattr(existing, field) != value for field, value in settings.items()):
        raise IdempotencyKeyReused()
    return existing


def refuse_forbidden_webhooks(config: schemas.ImportConfig, policy: AddressPolicy) -> None:
    """Webhook URLs whose host the address rules refuse without looking it up (a loopback, private or
    link-local address, ``localhost``): 422 ``INVALID_IMPORT`` naming the field. A name that resolves to
    such an address is refused when a message is sent, and that message is given up at once."""
    details = []
    for field, url in (
        ("errorWebhookUrl", config.error_webhook_url),
        ("statusWebhookUrl", config.status_webhook_url),
    ):
        if url is None or url.host is None:
            continue
        try:
            policy.check_host(url.host)
        except ForbiddenAddress as exc:
            details.append({"path": field, "message": f"The server does not send webhooks there: {exc}"})
    if details:
        raise InvalidImport("A webhook URL is refused by the address rules", details=details)


def ensure_open(import_: Import) -> None:
    """Records may be pushed, and the import committed, only while it is ``started``."""
    if import_.status == ImportStatus.CANCELLED:
        raise ImportCancelled()
    if import_.status != ImportStatus.STARTED:
        raise ImportAlreadyCommitted()


async def get_import(
    session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID, *, lock: bool = False
) -> Import:
    import_ = await ImportRepository(session).get(import_id, integration_id, lock=lock)
    if import_ is None:
        raise ImportNotFound()
    return import_


async def commit_import(session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID) -> Import:
    """Hand the import to the workers. The caller enqueues it once this transaction has committed."""
    import_ = await get_import(session, integration_id, import_id, lock=True)
    ensure_open(import_)
    repository = ImportRepository(session)
    await ensure_no_validation_running(repository, import_id)
    await repository.mark_committed(import_id)
    return import_


async def validate_import(
    session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID
) -> uuid.UUID:
    """Start a validation of the import (its commit rehearsed on a worker and rolled back), replacing the
    latest one; returns its id, which the caller queues once this transaction has committed."""
    import_ = await get_import(session, integration_id, import_id, lock=True)
    ensure_open(import_)
    repository = ImportRepository(session)
    await ensure_no_validation_running(repository, import_id)
    return await repository.start_validation(import_id)


async def ensure_no_validation_running(repository: ImportRepository, import_id: uuid.UUID) -> None:
    """Under the import's lock: neither a commit nor another validation while a validation runs."""
    validation = await repository.validation(import_id)
    if validation is not None and validation.status == ValidationStatus.RUNNING:
        raise ValidationRunning()


async def cancel_import(session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID) -> None:
    """Cancel an import that was not committed, deleting everything pushed to it; idempotent."""
    import_ = await get_import(session, integration_id, import_id, lock=True)
    if import_.status == ImportStatus.CANCELLED:
        return
    if import_.status != ImportStatus.STARTED:
        raise ImportAlreadyCommitted()
    repository = ImportRepository(session)
    await repository.delete_staged(import_id)
    await repository.mark_cancelled(import_id)
    await webhook_messages.import_ended(session, import_id)


# -- pushes ---------------------------------------------------------------------------------------------

# Concurrent pushes that stage the same natural key are resolved again this often, each time seeing the
# other's records, before the push fails.
PUSH_ATTEMPTS = 5
STAGED_KEY_CONSTRAINT = "ex_import_records_natural_key"


async def push(
    session: AsyncSession,
    integration_id: uuid.UUID,
    import_id: uuid.UUID,
    body: bytes,
    limits: PushLimits,
    operation: Operation,
) -> schemas.PushResult:
    """A push of records (upserts), deletes or unassigns (``operation``): check the import, parse the body,
    stage what is valid.

    Pushes into one import run at the same time: they take no lock while they resolve their records, and
    take turns only to number themselves and stage (``next_batch`` to the end of the transaction). A
    natural key that two pushes would both create is staged by the first; the second conflicts with it at
    staging and is resolved again, now seeing the first's records, so create or update is decided once."""
    stagers = STAGERS[operation]
    import_ = await get_import(session, integration_id, import_id)
    ensure_open(import_)
    collections = collections_of(parse_json(body), stagers)
    count_root_records(collections, limits.root_records)
    count_staged_records(collections, limits.staged_records)
    upcoming = import_.batch_count + 1
    if upcoming >= 4 and upcoming & (upcoming - 1) == 0:
        # At about the 4th, 8th, 16th… push: the planner's picture of how many records this import holds
        # would otherwise lag behind it, and it would look staged records up by scanning all of them.
        await ImportRepository(session).refresh_statistics()
    # Read before the first attempt: a savepoint rolled back expires what the session loaded.
    target = PushTarget(integration_id, import_id, import_.defer_references)
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            async with session.begin_nested():
                return await _resolve_and_stage(session, target, collections, operation)
        except IntegrityError as exc:
            if constraint_name(exc) != STAGED_KEY_CONSTRAINT or attempt == PUSH_ATTEMPTS:
                raise
            logger.info("another push staged a key of this one meanwhile: resolving again", attempt=attempt)
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class PushTarget:
    integration_id: uuid.UUID
    import_id: uuid.UUID
    defer_references: bool


@dataclass(frozen=True, slots=True)
class PushItem:
    """A root record to stage: the item of a body, the operation it is pushed for and its stager; and, in
    a retry, where it was in the import retried."""

    operation: Operation
    stager: Stager[Any]
    item: RootItem
    origin: schemas.RecordOrigin | None = None


def body_items(operation: Operation, collections: list[tuple[str, Any]]) -> list[PushItem]:
    """The root records of a push body, in body order."""
    stagers = STAGERS[operation]
    return [
        PushItem(operation, stagers[collection], item)
        for collection, value in collections
        for item in stagers[collection].items(collection, value)
    ]


Step = Callable[[], RecordOutcome]
"""Stages one root record of a push (or reports why it cannot be staged)."""


def plan(staging: Staging, items: list[PushItem]) -> list[Step]:
    """One step per root record, in order; what each may ask the lookups for is collected on the way, so
    that the lookups load once for the whole push before the steps run."""
    steps: list[Step] = []
    for push_item in items:
        stager, item = push_item.stager, push_item.item
        record = stager.parse(item)
        if isinstance(record, Rejected):
            steps.append(partial(RecordOutcome, item.entity, item.path, problems=record.problems))
            continue
        stager.want(staging, record)
        steps.append(partial(stage_item, stager, staging, record, item))
    return steps


def stage_item(stager: Stager[Any], staging: Staging, record: Any, item: RootItem) -> RecordOutcome:
    """Stage one root record of the body; the records it stages keep the item as it was pushed."""
    outcome = stager.stage(staging, record, item.path)
    if outcome.staged:
        pushed = orjson.dumps(item.pushed).decode()
        for staged in outcome.staged:
            if not staged.root:
                continue
            if staged.path == outcome.path:
                staged.pushed = pushed
            else:
                staged.item_id = outcome.id
    return outcome


async def _resolve_and_stage(
    session: AsyncSession, target: PushTarget, collections: list[tuple[str, Any]], operation: Operation
) -> schemas.PushResult:
    items = body_items(operation, collections)
    outcomes, staged = await _resolve(session, target, items)
    repository = ImportRepository(session)
    # The push's number, from a row lock on the import that is held to the end of the transaction: a commit
    # or cancel (which lock the import first) waits for the pushes that have it, and a push that comes
    # after them finds the import no longer open.
    batch = await repository.next_batch(target.import_id)
    if batch is None:
        ensure_open(await get_import(session, target.integration_id, target.import_id))
        raise AssertionError("an import that takes no push is not open")
    await repository.stage(target.import_id, batch, staged)
    count_pushed(operation.value, ((outcome.entity, outcome.rejected) for outcome in outcomes))
    return push_result(batch, outcomes, items)


async def _resolve(
    session: AsyncSession, target: PushTarget, items: list[PushItem]
) -> tuple[list[RecordOutcome], list[StagedRecord]]:
    """Resolve and check root records: what became of each, and the records to stage for them."""
    staging = Staging(Lookups(session, target.import_id), defer_references=target.defer_references)
    steps = plan(staging, items)
    await staging.lookups.load()

    outcomes: list[RecordOutcome] = []
    staged: dict[tuple[str, str, uuid.UUID], StagedRecord] = {}
    for step in steps:
        outcome = step()
        outcomes.append(outcome)
        for record in outcome.staged:
            # The last version of a record within one push wins, as it would across pushes.
            key = (record.operation.value, record.entity, record.entity_id)
            previous = staged.pop(key, None)
            if previous is not None:
                record.action = previous.action
                record.root = record.root or previous.root
                if record.pushed is None and record.item_id is None:
                    record.pushed, record.item_id = previous.pushed, previous.item_id
            staged[key] = record
    return outcomes, list(staged.values())


def push_result(batch: int, outcomes: list[RecordOutcome], items: list[PushItem]) -> schemas.PushResult:
    return schemas.PushResult(
        batch=batch,
        contains_errors=any(outcome.rejected for outcome in outcomes),
        records=[
            schemas.RecordResult(
                entity=outcome.entity,
                path=outcome.path,
                id=outcome.id,
                action=outcome.action.value if outcome.action else None,
                errors=[schemas.Problem(**problem_json(problem)) for problem in outcome.problems],
                origin=item.origin,
            )
            for outcome, item in zip(outcomes, items, strict=True)
        ],
    )


# -- retry ----------------------------------------------------------------------------------------------

RETRY_SUFFIX = " (retry)"


async def retry_import(
    session: AsyncSession,
    integration_id: uuid.UUID,
    import_id: uuid.UUID,
    config: schemas.RetryConfig,
    limits: PushLimits,
) -> schemas.RetryResult:
    """Start a new import with the settings of a done one, holding its failed and skipped root records
    again as they were first pushed: its batch 1, in the order of their failures, each at
    ``<collection>.<n>`` (``n`` its place in the retry) with its ``origin``. Staged ``limits.root_records``
    at a time, so that a retry of a large import holds no more in memory than a large push."""
    retried = await get_import(session, integration_id, import_id)
    if retried.status != ImportStatus.DONE:
        raise ImportNotDone()
    repository = ImportRepository(session)
    record_ids = await repository.retry_items(import_id)
    if not record_ids:
        raise NothingToRetry()
    name = config.name or retried.name[: 255 - len(RETRY_SUFFIX)] + RETRY_SUFFIX
    created = await repository.insert(
        {
            "id": new_id(),
            "integration_id": integration_id,
            "status": ImportStatus.STARTED,
            "name": name,
            "error_webhook_url": retried.error_webhook_url,
            "status_webhook_url": retried.status_webhook_url,
            "defer_references": retried.defer_references,
            "media_failure": retried.media_failure,
            "retry_of": import_id,
        }
    )
    assert created is not None
    batch = await repository.next_batch(created.id)
    assert batch is not None
    target = PushTarget(integration_id, created.id, created.defer_references)
    outcomes: list[RecordOutcome] = []
    items: list[PushItem] = []
    for start in range(0, len(record_ids), limits.root_records):
        chunk = [
            retry_item(pushed, start + index)
            for index, pushed in enumerate(
                await repository.pushed_items(record_ids[start : start + limits.root_records])
            )
        ]
        chunk_outcomes, staged = await _resolve(session, target, chunk)
        await repository.stage(created.id, batch, staged)
        for operation in {item.operation for item in chunk}:
            count_pushed(
                operation.value,
                (
                    (outcome.entity, outcome.rejected)
                    for outcome, item in zip(chunk_outcomes, chunk, strict=True)
                    if item.operation is operation
                ),
            )
        outcomes += chunk_outcomes
        items += chunk
    return schemas.RetryResult(
        import_=schemas.ImportOut.model_validate(created, from_attributes=True),
        records=push_result(batch, outcomes, items),
    )


def retry_item(pushed: PushedItem, index: int) -> PushItem:
    """An item pushed again by a retry, at ``index`` in it: its path keeps its collection (and custom
    entity), its index is its place in the retry, so that no two records of the retry share a path."""
    operation = Operation(pushed.operation)
    collection = pushed.path.split(".", 1)[0]
    stager = STAGERS[operation][collection]
    path = f"{pushed.path.rsplit('.', 1)[0]}.{index}"
    return PushItem(
        operation,
        stager,
        stager.item(path, pushed.pushed),
        schemas.RecordOrigin(batch=pushed.batch, path=pushed.path),
    )


def problem_json(problem: Problem) -> dict[str, Any]:
    data = problem.to_json()
    data["severity_code"] = data.pop("severityCode")
    data.pop("entity", None)
    return data


# -- status ---------------------------------------------------------------------------------------------


async def import_status(
    session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID, stalled_after_seconds: float
) -> schemas.Status:
    import_ = await get_import(session, integration_id, import_id)
    repository = ImportRepository(session)
    counts = (await repository.counts([import_id]))[import_id]
    failures = await repository.failures(import_id, after=None, limit=STATUS_FAILURE_LIMIT + 1)
    validation = await repository.validation(import_id)
    return schemas.Status(
        **summary(import_, counts, stalled_after_seconds).model_dump(),
        failures=[failure_schema(f) for f in failures[:STATUS_FAILURE_LIMIT]],
        failures_truncated=len(failures) > STATUS_FAILURE_LIMIT,
        validation=await validation_status(repository, validation) if validation else None,
    )


async def validation_status(repository: ImportRepository, validation: ImportValidation) -> schemas.Validation:
    failures = await repository.validation_failures(
        validation.import_id, after=None, limit=STATUS_FAILURE_LIMIT + 1
    )
    return schemas.Validation(
        status=ValidationStatus(validation.status),
        start_time=validation.start_time,
        end_time=validation.end_time,
        totals=schemas.Totals(**(validation.totals or {})),
        failures=[failure_schema(f) for f in failures[:STATUS_FAILURE_LIMIT]],
        failures_truncated=len(failures) > STATUS_FAILURE_LIMIT,
    )


async def list_imports(
    session: AsyncSession,
    integration_id: uuid.UUID,
    status: ImportStatus | None,
    cursor: str | None,
    limit: int,
    stalled_after_seconds: float,
) -> Page[schemas.ImportSummary]:
    after = id_after(cursor)
    repository = ImportRepository(session)
    imports = await repository.page(integration_id, status.value if status else None, after, limit + 1)
    page = list(imports[:limit])
    counts = await repository.counts([i.id for i in page]) if page else {}
    return Page[schemas.ImportSummary](
        items=[summary(i, counts[i.id], stalled_after_seconds) for i in page],
        next_cursor=encode_cursor(page[-1].id.hex) if len(imports) > limit else None,
    )


async def list_failures(
    session: AsyncSession,
    integration_id: uuid.UUID,
    import_id: uuid.UUID,
    cursor: str | None,
    limit: int,
    min_severity: Severity,
    *,
    with_records: bool = False,
    of_validation: bool = False,
) -> Page[schemas.Failure]:
    """A page of an import's failures, or of its latest validation's (``of_validation``); ``with_records``:
    each with its root record as it was pushed."""
    await get_import(session, integration_id, import_id)
    repository = ImportRepository(session)
    listed = repository.validation_failures if of_validation else repository.failures
    failures: Sequence[ImportFailure | ImportValidationFailure] = await listed(
        import_id, after=number_after(cursor), limit=limit + 1, max_severity_code=int(min_severity)
    )
    page = list(failures[:limit])
    records: dict[int, Any] = {}
    if with_records:
        records = await repository.pushed_records([f.record_id for f in page if f.record_id is not None])
    return Page[schemas.Failure](
        items=[failure_schema(f, records.get(f.record_id) if f.record_id else None) for f in page],
        next_cursor=encode_cursor(page[-1].number) if len(failures) > limit else None,
    )
