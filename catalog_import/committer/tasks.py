"""The commit stage's worker functions: the arq job that runs an import under a lease, the one that rehearses
an import's commit for its validation, and the periodic checks that queue again the imports whose workers
are gone (their leases ran out) or that nobody made progress on (a lost queue entry), and the validations
left without a heartbeat. Their state lives in PostgreSQL, so running them twice or after a crash is
safe."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from arq import Retry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from catalog_import.committer.leases import RunnerLeases
from catalog_import.committer.repository import CommitRepository, RehearsalRepository
from catalog_import.committer.runner import ImportRunner, RunnerOptions, abandon_import
from catalog_import.committer.validation import Rehearsal
from catalog_import.db import database_unavailable
from catalog_import.runtime import WorkerRuntime

logger = structlog.get_logger(__name__)

MAX_TRIES = 5

# What a periodic check finds to queue again: an import, or a validation (with its import).
Found = TypeVar("Found")


@dataclass
class CommitRuntime(WorkerRuntime):
    """The worker's runtime with what the commit's jobs need besides: how runners work, the leases
    they hold on imports, and the engine a validation's rehearsal takes its one connection from."""

    runner_options: RunnerOptions
    leases: RunnerLeases
    engine: AsyncEngine


def is_transient(exc: BaseException) -> bool:
    """Infrastructure errors (the database or the network gone for a moment, a server restarting or
    shutting down), as opposed to bugs."""
    return database_unavailable(exc)


async def run_import(ctx: dict[str, Any], import_id_hex: str) -> bool:
    runtime: CommitRuntime = ctx["runtime"]
    import_id = uuid.UUID(import_id_hex)
    job_try: int = ctx.get("job_try", 1)
    log = logger.bind(import_id=import_id_hex, job_try=job_try)
    try:
        async with runtime.leases.holding(import_id):
            return await ImportRunner(
                runtime.session_factory, import_id, runtime.runner_options, runtime.media
            ).run()
    except Exception as exc:
        if is_transient(exc):
            # Retried until the infrastructure is back; the stall check queues the import again if
            # the tries run out first.
            log.warning("infrastructure error; the job is retried", error=str(exc))
        elif job_try >= MAX_TRIES:
            log.exception("import abandoned after repeated errors")
            await abandon_import(
                runtime.session_factory, import_id, f"The import stopped after {job_try} attempts: {exc}"
            )
            return False
        else:
            log.exception("import job failed; it is retried")
        raise Retry(defer=min(2**job_try, 30)) from exc


async def validate_import(ctx: dict[str, Any], import_id_hex: str, validation_id_hex: str) -> bool:
    """Rehearse an import's commit for its validation (see ``validation``). After an infrastructure error
    the validation, still running without a heartbeat, is queued again by the stall check; any other error
    ends it with a failure that says so."""
    runtime: CommitRuntime = ctx["runtime"]
    rehearsal = Rehearsal(
        engine=runtime.engine,
        session_factory=runtime.session_factory,
        options=runtime.runner_options,
        media=runtime.media,
        import_id=uuid.UUID(import_id_hex),
        validation_id=uuid.UUID(validation_id_hex),
        heartbeat_seconds=check_period(runtime.stalled_after_seconds / 3),
    )
    with structlog.contextvars.bound_contextvars(import_id=import_id_hex, validation_id=validation_id_hex):
        try:
            return await rehearsal.run()
        except Exception as exc:
            if is_transient(exc):
                logger.warning("infrastructure error; the validation is queued again", error=str(exc))
                raise
            logger.exception("validation failed")
            await rehearsal.fail(f"The validation stopped: {exc}")
            return False


def check_period(wanted_seconds: float) -> float:
    """How often a check that should run every ``wanted_seconds`` runs: at most once a second, at least
    every 15 s."""
    return max(1.0, min(15.0, wanted_seconds))


async def take_over_abandoned(ctx: dict[str, Any]) -> int:
    """Queue again the imports whose every lease ran out: the workers that ran them are gone."""
    runtime: CommitRuntime = ctx["runtime"]
    return await _queue_again(
        runtime,
        lambda session: CommitRepository(session).take_expired_leases(),
        lambda import_id: (import_id, runtime.queue.enqueue_import(import_id, again=True)),
        check="lease check",
        event="import of a gone worker queued again",
    )


async def requeue_stalled(ctx: dict[str, Any]) -> int:
    """Queue again the imports that are importing but on which nobody made progress lately and that no
    live job holds (a lost queue entry)."""
    runtime: CommitRuntime = ctx["runtime"]
    return await _queue_again(
        runtime,
        lambda session: CommitRepository(session).stalled(runtime.stalled_after_seconds),
        lambda import_id: (import_id, runtime.queue.enqueue_import(import_id, again=True)),
        check="stall check",
        event="stalled import queued again",
    )


async def requeue_stalled_validations(ctx: dict[str, Any]) -> int:
    """Queue again the validations that are running but whose worker has shown no sign of life lately
    (gone mid-rehearsal, or a queue entry lost)."""
    runtime: CommitRuntime = ctx["runtime"]
    return await _queue_again(
        runtime,
        lambda session: RehearsalRepository(session).stalled(runtime.stalled_after_seconds),
        lambda found: (found[0], runtime.queue.enqueue_validation(*found, again=True)),
        check="validation stall check",
        event="stalled validation queued again",
    )


async def _queue_again(
    runtime: CommitRuntime,
    find: Callable[[AsyncSession], Awaitable[Sequence[Found]]],
    queue: Callable[[Found], tuple[uuid.UUID, Awaitable[bool]]],
    *,
    check: str,
    event: str,
) -> int:
    """Queue again what ``find`` names: ``queue`` gives each one's import and the queueing of its job,
    and ``event`` is logged for each."""
    try:
        async with runtime.session_factory() as session, session.begin():
            found = await find(session)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # The next check, a few seconds on, looks again.
        logger.warning(f"{check} skipped: database unavailable", error=str(exc))
        return 0
    for item in found:
        import_id, queueing = queue(item)
        logger.warning(event, import_id=import_id.hex)
        await queueing
    return len(found)
