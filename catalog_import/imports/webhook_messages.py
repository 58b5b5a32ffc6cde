"""What an import tells its webhooks, written to the webhooks' outbox in the caller's transaction: a batch
of failures as it is recorded, the final status when the import ends. The import side decides what is
said; the webhooks package sends it (its delivery loops)."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.imports import schemas
from catalog_import.imports.repository import ImportRepository
from catalog_import.imports.views import failure_schema, summary
from catalog_import.models import Import
from catalog_import.webhooks.repository import WebhookRepository

FAILURES_EVENT = "import.failures"
DONE_EVENT = "import.done"


async def failures_recorded(session: AsyncSession, import_id: uuid.UUID, failure_ids: Sequence[int]) -> None:
    """Queue an ``import.failures`` message with the given failures, if the import has an error webhook."""
    if not failure_ids:
        return
    repository = WebhookRepository(session)
    error_url, _status_url = await repository.urls(import_id)
    if error_url is None:
        return
    failures = await ImportRepository(session).failures_by_id(failure_ids)
    event = schemas.FailuresEvent(import_id=import_id, failures=[failure_schema(f) for f in failures])
    await repository.add(import_id, FAILURES_EVENT, error_url, event.model_dump_json(by_alias=True))


async def import_ended(session: AsyncSession, import_id: uuid.UUID) -> None:
    """Queue the ``import.done`` message with the final status, if the import has a status webhook. Called
    in the transaction that ends the import (done or cancelled), so it is written exactly once."""
    repository = WebhookRepository(session)
    _error_url, status_url = await repository.urls(import_id)
    if status_url is None:
        return
    import_ = await session.get(Import, import_id, populate_existing=True)
    assert import_ is not None
    counts = (await ImportRepository(session).counts([import_id]))[import_id]
    event = schemas.DoneEvent(import_id=import_id, status=summary(import_, counts))
    await repository.add(import_id, DONE_EVENT, status_url, event.model_dump_json(by_alias=True))
