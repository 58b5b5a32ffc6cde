"""Import session endpoints (CONTRACT §2–§5): thin handlers that call one service function each."""

import asyncio
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from catalog_import.auth.dependencies import IntegrationId
from catalog_import.db import Session
from catalog_import.errors import Unprocessable
from catalog_import.imports import schemas, service
from catalog_import.imports.body import PushesPerIntegration, PushLimits, read_body, refuse_declared_size
from catalog_import.imports.events import ImportEvents, parse_last_event_id
from catalog_import.imports.records import CustomRecord, DeleteBatch, RecordBatch, UnassignBatch
from catalog_import.models import ImportStatus, Operation
from catalog_import.problems import Severity
from catalog_import.schemas import NO_NUL, ErrorResponse, Page, json_body

router = APIRouter(prefix="/api/import", tags=["import"])


async def push_body(request: Request, integration_id: IntegrationId) -> AsyncIterator[bytes]:
    """The push's body, read during one of its integration's turns (held until the push is answered) and
    within ``push_body_timeout_seconds``: a slow body delays only its own integration's pushes."""
    settings = request.app.state.settings
    refuse_declared_size(request, settings.max_body_bytes)
    pushes: PushesPerIntegration = request.app.state.pushes_per_integration
    async with pushes.turn(integration_id):
        yield await read_body(request, settings.max_body_bytes, settings.push_body_timeout_seconds)


def stalled_after(request: Request) -> float:
    """How long an importing import may go without progress before its status says it stalled."""
    return float(request.app.state.settings.stalled_after_seconds)


StalledAfter = Annotated[float, Depends(stalled_after)]


def push_limits(request: Request) -> PushLimits:
    settings = request.app.state.settings
    return PushLimits(settings.max_records_per_push, settings.max_staged_records_per_push)


async def push_slot(request: Request) -> AsyncIterator[None]:
    """Hold one of the process's push slots (``push_concurrency``) until the push's session has committed:
    a push parses its body, which has arrived whole, only once it has one."""
    slots: asyncio.Semaphore = request.app.state.push_slots
    async with slots:
        yield


# Declared after the integration (a push without a valid token is refused at once), in this order, before
# the session: the body is read before a slot is taken.
PushBody = Annotated[bytes, Depends(push_body, scope="function")]
PushSlot = Annotated[None, Depends(push_slot, scope="function")]


REQUEST_MODELS = (RecordBatch, DeleteBatch, UnassignBatch, CustomRecord)
"""The bodies the push routes read themselves, named as components of the OpenAPI document."""


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Documented errors: 401 and 422 (a malformed id or parameter) on every route, plus ``codes``."""
    return {code: {"model": ErrorResponse} for code in sorted({401, 422, *codes})}


@router.post(
    "/catalog/start",
    name="start_import",
    operation_id="start_import",
    response_model=schemas.ImportOut,
    responses=error_responses(409, 422),
)
async def start_import(
    request: Request,
    config: schemas.ImportConfig,
    session: Session,
    integration_id: IntegrationId,
    idempotency_key: Annotated[str | None, Header(max_length=255, pattern=NO_NUL)] = None,
) -> schemas.ImportOut:
    """Start an import session. A repeated start with the same ``Idempotency-Key`` and body returns the same
    import; the same key with another body is refused (409 ``IDEMPOTENCY_KEY_REUSED``)."""
    policy = request.app.state.address_policy
    import_ = await service.start_import(session, integration_id, config, idempotency_key, policy)
    return schemas.ImportOut.model_validate(import_, from_attributes=True)


@router.get(
    "",
    operation_id="list_imports",
    response_model=Page[schemas.ImportSummary],
    responses=error_responses(422),
)
async def list_imports(
    session: Session,
    integration_id: IntegrationId,
    stalled_after_seconds: StalledAfter,
    status: ImportStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[schemas.ImportSummary]:
    """The caller's imports, newest first."""
    return await service.list_imports(session, integration_id, status, cursor, limit, stalled_after_seconds)


@router.post(
    "/{import_id}/record",
    operation_id="push_records",
    response_model=schemas.PushResult,
    responses=error_responses(404, 408, 409, 413, 422),
    openapi_extra=json_body(RecordBatch),
)
async def push_records(
    request: Request,
    import_id: Annotated[uuid.UUID, Path()],
    integration_id: IntegrationId,
    body: PushBody,
    _slot: PushSlot,
    session: Session,
) -> schemas.PushResult:
    """Stage records (taxes, categories, media, products). Each root record is checked on its own: the
    valid ones are staged, the others are answered with their problems."""
    limits = push_limits(request)
    return await service.push(session, integration_id, import_id, body, limits, Operation.UPSERT)


@router.post(
    "/{import_id}/record/delete",
    operation_id="push_deletes",
    response_model=schemas.PushResult,
    responses=error_responses(404, 408, 409, 413, 422),
    openapi_extra=json_body(DeleteBatch),
)
async def push_deletes(
    request: Request,
    import_id: Annotated[uuid.UUID, Path()],
    integration_id: IntegrationId,
    body: PushBody,
    _slot: PushSlot,
    session: Session,
) -> schemas.PushResult:
    """Queue deletions; they run at commit, after every upsert, dependents first."""
    limits = push_limits(request)
    return await service.push(session, integration_id, import_id, body, limits, Operation.DELETE)


@router.post(
    "/{import_id}/record/unassign",
    operation_id="push_unassigns",
    response_model=schemas.PushResult,
    responses=error_responses(404, 408, 409, 413, 422),
    openapi_extra=json_body(UnassignBatch),
)
async def push_unassigns(
    request: Request,
    import_id: Annotated[uuid.UUID, Path()],
    integration_id: IntegrationId,
    body: PushBody,
    _slot: PushSlot,
    session: Session,
) -> schemas.PushResult:
    """Queue removals of product links (media, categories); they run at commit."""
    limits = push_limits(request)
    return await service.push(session, integration_id, import_id, body, limits, Operation.UNASSIGN)


@router.post(
    "/{import_id}/commit",
    operation_id="commit_import",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def commit_import(
    request: Request,
    import_id: Annotated[uuid.UUID, Path()],
    session: Session,
    integration_id: IntegrationId,
    background: BackgroundTasks,
) -> Response:
    """Commit the import: it runs on the workers, level by level. Accepted once."""
    await service.commit_import(session, integration_id, import_id)
    # Runs after the session dependency has committed: workers never see an uncommitted import.
    background.add_task(request.app.state.queue.enqueue_import, import_id)
    return Response(status_code=204)


@router.post(
    "/{import_id}/validate",
    operation_id="validate_import",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def validate_import(
    request: Request,
    import_id: Annotated[uuid.UUID, Path()],
    session: Session,
    integration_id: IntegrationId,
    background: BackgroundTasks,
) -> Response:
    """Rehearse the commit: the workers run it as it would run (every level and check, media downloaded
    and checked) and roll it back. The import stays `started`; `status.validation` tells what it found."""
    validation_id = await service.validate_import(session, integration_id, import_id)
    background.add_task(request.app.state.queue.enqueue_validation, import_id, validation_id)
    return Response(status_code=204)


RETRY_DEFAULTS = schemas.RetryConfig()
"""A retry without a body: the import retried names the new one."""


@router.post(
    "/{import_id}/retry",
    operation_id="retry_import",
    response_model=schemas.RetryResult,
    responses=error_responses(404, 409),
)
async def retry_import(
    import_id: Annotated[uuid.UUID, Path()],
    session: Session,
    integration_id: IntegrationId,
    limits: Annotated[PushLimits, Depends(push_limits)],
    _slot: PushSlot,
    config: Annotated[schemas.RetryConfig, Body()] = RETRY_DEFAULTS,
) -> schemas.RetryResult:
    """Start a new import with the settings of a done one, holding its failed and skipped root records
    again as they were first pushed (its batch 1, in the order of the failures); push corrections into it,
    then commit it."""
    return await service.retry_import(session, integration_id, import_id, config, limits)


@router.post(
    "/{import_id}/cancel",
    operation_id="cancel_import",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def cancel_import(
    import_id: Annotated[uuid.UUID, Path()], session: Session, integration_id: IntegrationId
) -> Response:
    """Cancel an import that was not committed and delete what was pushed to it."""
    await service.cancel_import(session, integration_id, import_id)
    return Response(status_code=204)


@router.get(
    "/{import_id}/status",
    operation_id="get_import_status",
    response_model=schemas.Status,
    responses=error_responses(404),
)
@router.post(
    "/{import_id}/status",
    operation_id="post_import_status",
    response_model=schemas.Status,
    responses=error_responses(404),
)
async def import_status(
    import_id: Annotated[uuid.UUID, Path()],
    session: Session,
    integration_id: IntegrationId,
    stalled_after_seconds: StalledAfter,
) -> schemas.Status:
    """Progress, totals per entity and the first 100 failures of an import."""
    return await service.import_status(session, integration_id, import_id, stalled_after_seconds)


async def readable_import(
    request: Request, import_id: Annotated[uuid.UUID, Path()], integration_id: IntegrationId
) -> uuid.UUID:
    """The import's id once it is known to exist for the caller (404 otherwise), checked in a session of
    its own so that a long response holds none."""
    async with request.app.state.session_factory() as session:
        await service.get_import(session, integration_id, import_id)
    return import_id


@router.get(
    "/{import_id}/events",
    operation_id="stream_import_events",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "`progress`, `failures` and `end` events; JSON in each event's data"},
        **error_responses(404),
    },
)
async def import_events(
    request: Request,
    import_id: Annotated[uuid.UUID, Depends(readable_import)],
    integration_id: IntegrationId,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=32,
            pattern=NO_NUL,
            description="Resume after this failure number (the id of the last `failures` event seen).",
        ),
    ] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Progress and failures as they happen, as Server-Sent Events: `progress` (the status without
    failures) when it changes, `failures` (like the error webhook's body) as failures are recorded, and
    `end` (the final status) when the import is done or cancelled; then the stream closes."""
    events = ImportEvents(
        request.app.state.session_factory,
        integration_id,
        import_id,
        after_failure=parse_last_event_id(last_event_id),
        poll_seconds=request.app.state.settings.events_poll_seconds,
        stalled_after_seconds=stalled_after(request),
    )
    async for event in events.stream():
        yield event


@router.get(
    "/{import_id}/failures",
    operation_id="list_import_failures",
    response_model=Page[schemas.Failure],
    responses=error_responses(404, 422),
)
async def list_failures(
    import_id: Annotated[uuid.UUID, Path()],
    session: Session,
    integration_id: IntegrationId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    min_severity: Annotated[
        str, Query(alias="minSeverity", description="Only failures at least this severe (name or 0–7).")
    ] = "debug",
    include: Annotated[
        Literal["record"] | None,
        Query(description="`record`: give each failure of a root record that record as it was pushed."),
    ] = None,
    of: Annotated[
        Literal["import", "validation"],
        Query(description="`validation`: the failures of the import's latest validation instead."),
    ] = "import",
) -> Page[schemas.Failure]:
    """Every failure of an import (or of its latest validation), in the order they were found."""
    return await service.list_failures(
        session,
        integration_id,
        import_id,
        cursor,
        limit,
        parse_severity(min_severity),
        with_records=include == "record",
        of_validation=of == "validation",
    )


def parse_severity(value: str) -> Severity:
    try:
        return Severity(int(value)) if value.isdigit() else Severity.from_label(value)
    except (KeyError, ValueError) as exc:
        raise Unprocessable(f"Unknown severity {value!r}") from exc
