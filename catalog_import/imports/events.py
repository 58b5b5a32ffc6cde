"""An import's progress and failures as a stream of Server-Sent Events, for dashboards.

Events: ``progress`` (the status without failures) whenever something other than the duration changed;
``failures`` (``{"type": "import.failures", "importId", "failures"}``, like the error webhook) for failures
as they are recorded, each with the number of its last failure as the event id, so that a client that
reconnects with ``Last-Event-ID`` gets only newer ones; and ``end`` (the final status) once the import is
done or cancelled, after which the stream closes. Failures of an import are numbered in the order they
are committed, so following them by number misses none.

The stream polls the database every ``poll_seconds`` in short transactions of its own: an open stream
holds no connection."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi.sse import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.imports import schemas
from catalog_import.imports.repository import ImportRepository
from catalog_import.imports.service import get_import
from catalog_import.imports.views import failure_schema, summary
from catalog_import.models import ImportFailure, ImportStatus

FAILURES_PER_EVENT = 100
ENDED = (ImportStatus.DONE, ImportStatus.CANCELLED)


def parse_last_event_id(value: str | None) -> int | None:
    """The failure number a reconnecting client has seen up to; None for anything else."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class ImportEvents:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        integration_id: uuid.UUID,
        import_id: uuid.UUID,
        *,
        after_failure: int | None,
        poll_seconds: float,
        stalled_after_seconds: float,
    ) -> None:
        self.session_factory = session_factory
        self.integration_id = integration_id
        self.import_id = import_id
        self.cursor = after_failure
        self.poll_seconds = poll_seconds
        self.stalled_after_seconds = stalled_after_seconds
        self._last_progress: dict[str, Any] | None = None

    async def stream(self) -> AsyncIterator[ServerSentEvent]:
        """The events until the import ends. No session is open while an event waits for the client."""
        while True:
            # The import is read before its failures: once it has ended, every failure is there to read.
            async with self.session_factory() as session:
                import_ = await get_import(session, self.integration_id, self.import_id)
            while True:
                async with self.session_factory() as session:
                    failures = await ImportRepository(session).failures(
                        self.import_id, after=self.cursor, limit=FAILURES_PER_EVENT
                    )
                if failures:
                    yield self._failures_event(failures)
                if len(failures) < FAILURES_PER_EVENT:
                    break
            async with self.session_factory() as session:
                counts = (await ImportRepository(session).counts([self.import_id]))[self.import_id]
            current = summary(import_, counts, self.stalled_after_seconds)
            progress = self._progress_event(current)
            if progress is not None:
                yield progress
            if import_.status in ENDED:
                yield ServerSentEvent(event="end", raw_data=current.model_dump_json(by_alias=True))
                return
            await asyncio.sleep(self.poll_seconds)

    def _failures_event(self, failures: Sequence[ImportFailure]) -> ServerSentEvent:
        self.cursor = failures[-1].number
        event = schemas.FailuresEvent(
            import_id=self.import_id, failures=[failure_schema(f) for f in failures]
        )
        return ServerSentEvent(
            event="failures", id=str(self.cursor), raw_data=event.model_dump_json(by_alias=True)
        )

    def _progress_event(self, current: schemas.ImportSummary) -> ServerSentEvent | None:
        compared = current.model_dump(exclude={"duration"})
        if compared == self._last_progress:
            return None
        self._last_progress = compared
        return ServerSentEvent(event="progress", raw_data=current.model_dump_json(by_alias=True))
