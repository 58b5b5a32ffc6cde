"""Validate an import (CONTRACT §9.4): its commit rehearsed on a worker exactly as it would run — every
level, every check, media downloaded and checked — in one transaction that is then rolled back.

The rehearsal works on a copy of the import: a hidden import (``rehearsal_of``) holding its staged records
up to the validation's last one, committed before the rehearsal starts so that its statistics can be taken
without holding anyone up. The import itself is only read, so pushes into it go on meanwhile. Inside the
rehearsal's transaction the copy is committed and the ordinary runner writes it, its sessions joining that
transaction; before the rollback the copy's totals and failures are written, in a transaction of their
own, as the import's validation. After it, the copy is deleted and the files the rehearsal downloaded that
no media uses are removed, so no file is kept; the copy has no webhooks, so none is sent.

A rehearsal runs on one connection, so one batch at a time, and what it writes in the catalog stays
locked until it ends, as in one long commit transaction: a commit of another import that writes the same
rows waits for it. A worker gone mid-rehearsal, or the database gone for a moment, leaves its validation
running without a heartbeat; the stall check queues it again, and the new run starts over. Any other error
ends the validation with one critical failure (``VALIDATION_FAILED``) that says what went wrong."""

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog_import.committer.planner import ANALYZE_STAGED
from catalog_import.committer.repository import RehearsalRepository, ValidationFailure
from catalog_import.committer.runner import ImportRunner, RunnerOptions, release_unused_files
from catalog_import.db import joined_session_factory
from catalog_import.imports.repository import ImportRepository
from catalog_import.imports.schemas import Totals
from catalog_import.imports.views import summary
from catalog_import.media.services import MediaServices
from catalog_import.models import Import
from catalog_import.problems import Problem, Severity

logger = structlog.get_logger(__name__)

# Failures copied from the rehearsal to the validation per round trip.
FAILURES_PER_PAGE = 1000


@dataclasses.dataclass(frozen=True)
class Rehearsal:
    """One run of a validation."""

    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    options: RunnerOptions
    media: MediaServices | None
    import_id: uuid.UUID
    validation_id: uuid.UUID
    heartbeat_seconds: float

    async def run(self) -> bool:
        """Rehearse the import's commit and record what it came to; False when the validation is no
        longer the import's latest running one (validated again, or done by another run)."""
        async with self.session_factory() as session, session.begin():
            repository = RehearsalRepository(session)
            validation = await repository.current(self.import_id, self.validation_id)
            if validation is None:
                return False
            # What an earlier run of a validation of this import left behind, its worker gone.
            await repository.drop_copies(self.import_id)
            copy_id = await repository.copy_import(self.import_id, validation.last_record)
            if copy_id is None:
                # Cancelled since: nothing to rehearse.
                await repository.finish(self.import_id, Totals().model_dump())
                return True
        held_files: set[str] = set()
        try:
            async with self._heartbeats():
                async with self.session_factory() as session, session.begin():
                    await session.execute(text(ANALYZE_STAGED))
                return await self._rehearse(copy_id, held_files)
        finally:
            async with self.session_factory() as session, session.begin():
                await RehearsalRepository(session).drop_copy(copy_id)
            await release_unused_files(self.session_factory, self.media, held_files)

    async def _rehearse(self, copy_id: uuid.UUID, held_files: set[str]) -> bool:
        """Commit the copy inside a transaction that is rolled back, then record the validation; the files
        it stored go into ``held_files``."""
        async with self.engine.connect() as connection:
            transaction = await connection.begin()
            try:
                sessions = joined_session_factory(connection)
                async with sessions() as session, session.begin():
                    await RehearsalRepository(session).start_rehearsal(copy_id)
                # One connection: one batch at a time.
                options = dataclasses.replace(self.options, media_lanes=1)
                runner = ImportRunner(sessions, copy_id, options, self.media, rehearsal=True)
                try:
                    await runner.run()
                finally:
                    held_files |= runner.held_files
                return await self._record(sessions, copy_id)
            finally:
                await transaction.rollback()

    async def _record(self, rehearsal: async_sessionmaker[AsyncSession], copy_id: uuid.UUID) -> bool:
        """Write the copy's totals and failures, read inside the rehearsal, as the validation's."""
        async with rehearsal() as reading:
            copy = await reading.get(Import, copy_id)
            assert copy is not None
            counts = (await ImportRepository(reading).counts([copy_id]))[copy_id]
            totals = summary(copy, counts).totals.model_dump()
            async with self.session_factory() as session, session.begin():
                repository = RehearsalRepository(session)
                if await repository.current(self.import_id, self.validation_id) is None:
                    return False
                after = 0
                while failures := await RehearsalRepository(reading).copy_failures(
                    self.import_id, copy_id, after=after, limit=FAILURES_PER_PAGE
                ):
                    await repository.add_failures(self.import_id, failures)
                    after = failures[-1].number
                await repository.finish(self.import_id, totals)
        logger.info("import validated", import_id=self.import_id.hex, **totals)
        return True

    async def fail(self, reason: str) -> None:
        """End the validation with one import-wide critical failure saying why it could not be run."""
        problem = Problem("VALIDATION_FAILED", reason, "", Severity.CRITICAL, "import")
        async with self.session_factory() as session, session.begin():
            repository = RehearsalRepository(session)
            if await repository.current(self.import_id, self.validation_id) is None:
                return
            failure = ValidationFailure(
                1, None, "import", self.import_id, None, None, int(problem.severity), [problem.to_json()]
            )
            await repository.add_failures(self.import_id, [failure])
            await repository.finish(self.import_id, Totals(failures=1).model_dump())

    @contextlib.asynccontextmanager
    async def _heartbeats(self) -> AsyncIterator[None]:
        """The validation's heartbeat, every ``heartbeat_seconds`` while the rehearsal runs."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.heartbeat_seconds)
                async with self.session_factory() as session, session.begin():
                    await RehearsalRepository(session).heartbeat(self.validation_id)

        task = asyncio.create_task(beat(), name=f"validation-heartbeat-{self.validation_id.hex[:8]}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
