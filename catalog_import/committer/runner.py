"""Run a committed import: prepare it once, then write it level by level in batches until nothing is left.

Any number of runners (jobs, on any number of workers) may work on one import at the same time. Each batch
(cut when the commit was prepared) is claimed with ``FOR UPDATE SKIP LOCKED`` and written in one
transaction that also marks it done, records the outcomes of its records that have something to say and
counts them, so a runner killed at any moment loses nothing and nothing is written twice: its transaction
rolls back, the batch becomes claimable again, and whoever runs next resumes where it stopped. The staged
records themselves are only read.

Media records, which download, are cut into small batches of their own: once a runner claims one, it
writes up to ``media_lanes`` of them at once (further lanes in a task group that ends with the run), so
that their downloads overlap and each batch settles as soon as its own downloads have ended."""

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import structlog
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import import metrics
from catalog_import.committer.failures import (
    dependency_problems,
    record_import_failure,
    report_failures,
    settle_records,
)
from catalog_import.committer.planner import categories_list_products, prepare_import
from catalog_import.committer.repository import CommitRepository
from catalog_import.committer.writers import WRITERS
from catalog_import.committer.writers.base import ClaimedRecord, Problems, WriteContext, database_problem
from catalog_import.imports import webhook_messages
from catalog_import.media.repository import MediaFileRepository
from catalog_import.media.services import MediaServices
from catalog_import.models import MediaFailure, RecordState
from catalog_import.problems import Problem, Severity

logger = structlog.get_logger(__name__)

# Stored files checked (and removed when unused) per transaction once a batch has ended.
FILES_PER_RELEASE = 500

# Errors of the data in a batch: the batch is written again record by record to find the culprits.
DATA_ERRORS = (IntegrityError, DataError)

# SQLSTATEs of a transaction the database rolled back to resolve a conflict with another one: deadlock
# detected, serialization failure.
LOCK_CONFLICTS = {"40P01", "40001"}
MAX_CONFLICTS_IN_A_ROW = 20


def is_lock_conflict(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in LOCK_CONFLICTS


class Progress(Enum):
    """What claiming the next batch came to."""

    WROTE = "a batch was written"
    # Every batch left of the current level is in other runners' hands.
    WAIT = "wait for the level"
    FINISHED = "nothing left"


@dataclass(frozen=True)
class RunnerOptions:
    batch_size: int = 2500
    # Media records (which download) are cut into batches of their own, smaller, so that they settle as
    # their downloads end; a runner writes up to ``media_lanes`` of them at once.
    media_batch_size: int = 20
    media_lanes: int = 4
    # How long to wait for batches of the current level that other runners hold before looking again.
    wait_seconds: float = 0.1
    heartbeat_seconds: float = 1.0


class ImportRunner:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        import_id: uuid.UUID,
        options: RunnerOptions,
        media: MediaServices | None = None,
        *,
        rehearsal: bool = False,
    ) -> None:
        """``rehearsal``: the run is a validation's, in one transaction that is rolled back afterwards
        (its sessions join it): files are not removed meanwhile but held (``held_files``) for the caller
        to release once it has rolled back, and no batch is counted in the metrics."""
        self.session_factory = session_factory
        self.import_id = import_id
        self.options = options
        self.media = media
        self.log = logger.bind(import_id=import_id.hex)
        self._last_heartbeat = 0.0
        self._categories_list_products = True
        self._skip_failed_media = False
        # The lanes of this runner while it writes: its own, and further ones for batches of media.
        self._lanes: asyncio.TaskGroup | None = None
        self._media_lanes: set[asyncio.Task[None]] = set()
        self.rehearsal = rehearsal
        self.held_files: set[str] = set()

    async def run(self) -> bool:
        """Work on the import until it is done. Returns True when this runner finished it."""
        # Every log line of the run carries the import's id, the writers' and the downloader's too.
        with structlog.contextvars.bound_contextvars(import_id=self.import_id.hex):
            return await self._run()

    async def _run(self) -> bool:
        async with self.session_factory() as session, session.begin():
            prepared = await prepare_import(
                session,
                self.import_id,
                self.options.batch_size,
                self.options.media_batch_size,
                # Held to the end of a rehearsal's transaction, ANALYZE's lock would hold up everyone
                # else's; a rehearsal has its statistics taken before it starts.
                analyze=not self.rehearsal,
            )
            if not prepared:
                return False
            self._categories_list_products = await categories_list_products(session, self.import_id)
            media_failure = await CommitRepository(session).media_failure(self.import_id)
            self._skip_failed_media = media_failure is MediaFailure.SKIP
        try:
            async with asyncio.TaskGroup() as lanes:
                self._lanes = lanes
                return await self._write_batches()
        except BaseExceptionGroup as group:
            # One lane failed and the others were stopped: the job fails with that lane's error.
            raise group.exceptions[0] from None
        finally:
            self._lanes = None

    async def _write_batches(self) -> bool:
        """Claim and write batches until none is left, then end the import."""
        while True:
            progress = await self._write_with_retries()
            if progress is Progress.WROTE:
                await self._heartbeat()
                continue
            if progress is Progress.WAIT:
                # Everything left at this level is being written by other runners (or lanes).
                await asyncio.sleep(self.options.wait_seconds)
                continue
            async with self.session_factory() as session, session.begin():
                finished = await CommitRepository(session).finish(self.import_id)
                if finished:
                    await webhook_messages.import_ended(session, self.import_id)
            if finished:
                self.log.info("import done")
            return finished

    async def _write_media_batches(self) -> None:
        """A further lane of this runner: media batches of the current level, while there are any to claim,
        so that several of them download at once and each settles as soon as its own downloads end."""
        while await self._write_with_retries(media_only=True) is Progress.WROTE:
            await self._heartbeat()

    def _add_media_lanes(self) -> None:
        """Up to ``media_lanes`` - 1 further lanes beside this one, once a batch of media is claimed."""
        if self._lanes is None:
            return
        while len(self._media_lanes) < self.options.media_lanes - 1:
            lane = self._lanes.create_task(self._write_media_batches())
            self._media_lanes.add(lane)
            lane.add_done_callback(self._media_lanes.discard)

    async def _write_with_retries(self, *, media_only: bool = False) -> Progress:
        """Claim and write the next batch, again after a lock conflict with another import."""
        conflicts = 0
        while True:
            try:
                return await self._write_next_batch(media_only=media_only)
            except DBAPIError as exc:
                conflicts += 1
                if not is_lock_conflict(exc) or conflicts > MAX_CONFLICTS_IN_A_ROW:
                    raise
                # Another import updated the same rows in another order and the database chose this
                # batch's transaction to break the deadlock: nothing of it was written, so it is claimed
                # and written again after a short, randomised pause.
                self.log.info("batch rolled back by a lock conflict; writing it again", error=str(exc))
                await asyncio.sleep(random.uniform(0.01, 0.05) * conflicts)  # noqa: S311 (jitter)

    async def _write_next_batch(self, *, media_only: bool = False) -> Progress:
        """Claim and write the next batch (of media records only, for a further lane)."""
        context = WriteContext(
            media=self.media,
            categories_list_products=self._categories_list_products,
            skip_failed_media=self._skip_failed_media,
        )
        # Log lines while a batch is written carry its id and, once claimed, its level (``batch_level``).
        with structlog.contextvars.bound_contextvars(batch_id=uuid.uuid4().hex[:12]):
            try:
                return await self._write_batch(context, media_only=media_only)
            finally:
                # Whether the batch committed or not, files it stored or let go of that no media row uses
                # (a failed download's neighbours, an undone nested media, a deleted one) are removed.
                await self._release_unused_files(context.touched_files)
                structlog.contextvars.unbind_contextvars("batch_level")

    async def _write_batch(self, context: WriteContext, *, media_only: bool) -> Progress:
        async with self.session_factory() as session, session.begin():
            repository = CommitRepository(session)
            batch = await repository.claim_batch(self.import_id, media_only=media_only)
            if batch is None:
                # Nothing left, or the rest of the level in other runners' hands.
                if media_only:
                    return Progress.WAIT
                pending = await repository.has_pending_batches(self.import_id)
                return Progress.WAIT if pending else Progress.FINISHED
            if batch.media:
                self._add_media_lanes()
            level = batch.level
            structlog.contextvars.bind_contextvars(batch_level=level)
            started = time.perf_counter()
            claimed = await repository.batch_records(self.import_id, batch)
            records = [record for _operation, record in claimed]
            entities = {r.record_id: r.entity for r in records}
            # Problems from dependencies: errors stop a record, warnings go along with it.
            problems = await dependency_problems(session, self.import_id, records)
            groups: dict[tuple[str, str], list[ClaimedRecord]] = defaultdict(list)
            for operation, record in claimed:
                if not any(p.is_error for p in problems.get(record.record_id, ())):
                    groups[(operation, record.entity)].append(record)
            not_written: set[int] = set(problems) - {r.record_id for group in groups.values() for r in group}
            for (operation, entity), group in groups.items():
                for record_id, writer_problems in (
                    await self._write_group(session, operation, entity, group, context)
                ).items():
                    problems.setdefault(record_id, []).extend(writer_problems)
                    not_written.add(record_id)
            failed = {rid: p for rid, p in problems.items() if any(x.is_error for x in p)}
            skipped = {rid: p for rid, p in problems.items() if rid in not_written and rid not in failed}
            warned = {rid: p for rid, p in problems.items() if rid not in not_written}
            context.touched_files |= await settle_records(session, self.import_id, failed, entities)
            await settle_records(session, self.import_id, skipped, entities, state=RecordState.SKIPPED)
            await settle_records(session, self.import_id, warned, entities, state=RecordState.WRITTEN)
            written = Counter(r.entity for r in records if r.record_id not in problems)
            await repository.count_moved(self.import_id, written, RecordState.PENDING, RecordState.WRITTEN)
            await repository.mark_batch_done(batch.id, len(records))
            await report_failures(session, self.import_id, {**failed, **skipped, **warned}, entities)
            self.log.debug(
                "batch written",
                records=len(records),
                failed=len(failed),
                seconds=round(time.perf_counter() - started, 3),
            )

        def state(record_id: int) -> str:
            return "failed" if record_id in failed else "skipped" if record_id in not_written else "written"

        if self.rehearsal:
            return Progress.WROTE
        # Counted once the batch's transaction has committed.
        metrics.count_batch(
            time.perf_counter() - started,
            ((record.entity, operation, state(record.record_id)) for operation, record in claimed),
        )
        return Progress.WROTE

    async def _write_group(
        self,
        session: AsyncSession,
        operation: str,
        entity: str,
        records: Sequence[ClaimedRecord],
        context: WriteContext,
    ) -> Problems:
        writer = WRITERS[(operation, entity)]
        try:
            async with session.begin_nested():
                return await writer(session, records, context)
        except DATA_ERRORS:
            pass
        # Something in the batch was refused: write it record by record, each in its own savepoint, so
        # that one bad record fails alone. A batch of one is written again too: a unique key that another
        # import took while this batch waited for it (a product number, a tax name) is now committed, and
        # the record adopts what it names instead of failing.
        problems: Problems = {}
        for record in records:
            try:
                async with session.begin_nested():
                    problems.update(await writer(session, [record], context))
            except DATA_ERRORS as exc:
                problems[record.record_id] = [database_problem(exc, record.path)]
        return problems

    async def _release_unused_files(self, files: set[str]) -> None:
        if self.rehearsal:
            # Inside the rehearsal every file it stored is in use, and one it deletes still is outside.
            self.held_files |= files
            return
        await release_unused_files(self.session_factory, self.media, files)

    async def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < self.options.heartbeat_seconds:
            return
        self._last_heartbeat = now
        async with self.session_factory() as session, session.begin():
            await CommitRepository(session).heartbeat(self.import_id)


async def release_unused_files(
    session_factory: async_sessionmaker[AsyncSession], media: MediaServices | None, files: set[str]
) -> None:
    """Remove those of the stored ``files`` that no media row uses, each under its lock."""
    if media is None:
        return
    ordered = sorted(files)
    # A few hundred files per transaction: every file's lock is held to the end of it, and the locks of
    # all sessions share one table of the server's.
    for start in range(0, len(ordered), FILES_PER_RELEASE):
        chunk = ordered[start : start + FILES_PER_RELEASE]
        async with session_factory() as session, session.begin():
            files_repository = MediaFileRepository(session)
            await files_repository.lock_files(chunk)
            for sha256 in await files_repository.unused_files(chunk):
                media.storage.delete(sha256)


async def abandon_import(
    session_factory: async_sessionmaker[AsyncSession], import_id: uuid.UUID, reason: str
) -> None:
    """End an import that cannot be continued: what is left is skipped, and a critical failure says why."""
    async with session_factory() as session, session.begin():
        repository = CommitRepository(session)
        await repository.skip_unsettled(import_id)
        await record_import_failure(
            session, import_id, Problem("IMPORT_FAILED", reason, "", Severity.CRITICAL, "import")
        )
        if await repository.finish(import_id):
            await webhook_messages.import_ended(session, import_id)
