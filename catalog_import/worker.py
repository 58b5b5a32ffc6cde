"""The arq worker: job functions, and beside them the periodic checks (gone workers, stalled imports and
validations, the purge), the lease renewals and the webhook delivery loop, and the resources the jobs
share."""

import asyncio
import contextlib
from typing import Any

from arq import func
from arq.worker import Worker

from catalog_import.committer.leases import RENEWALS_PER_LEASE, RunnerLeases
from catalog_import.committer.runner import RunnerOptions
from catalog_import.committer.tasks import (
    MAX_TRIES,
    CommitRuntime,
    check_period,
    requeue_stalled,
    requeue_stalled_validations,
    run_import,
    take_over_abandoned,
    validate_import,
)
from catalog_import.config import Settings
from catalog_import.db import create_engine, create_session_factory
from catalog_import.imports.tasks import PURGE_EVERY_MINUTES, purge_expired_imports
from catalog_import.media.services import media_services
from catalog_import.periodic import Periodic, run_periodically
from catalog_import.queue import RUN_IMPORT, VALIDATE_IMPORT, ImportQueue, ReconnectingWorker, redis_settings
from catalog_import.webhooks.delivery import DeliveryLoop, DeliveryOptions


def periodic_checks(settings: Settings, ctx: dict[str, Any]) -> list[Periodic]:
    """What a worker checks every so often, beside its jobs: the imports whose workers are gone (a few
    times per lease), those nobody made progress on (three times per stall period), and the imports past
    the retention period. Each runs on every worker; what they do is claimed in PostgreSQL."""
    return [
        Periodic(
            "lease check", check_period(settings.runner_lease_seconds / RENEWALS_PER_LEASE),
            lambda: take_over_abandoned(ctx),
        ),
        Periodic(
            "stall check", check_period(settings.stalled_after_seconds / 3), lambda: requeue_stalled(ctx)
        ),
        Periodic(
            "validation stall check", check_period(settings.stalled_after_seconds / 3),
            lambda: requeue_stalled_validations(ctx),
        ),
        Periodic("purge", PURGE_EVERY_MINUTES * 60, lambda: purge_expired_imports(ctx)),
    ]  # fmt: skip


def create_worker(settings: Settings, *, handle_signals: bool = True, burst: bool = False) -> Worker:
    """A worker for ``settings`` (whose database and Redis URLs must be set)."""
    assert settings.database_url and settings.redis_url

    async def startup(ctx: dict[str, Any]) -> None:
        assert settings.database_url and settings.redis_url
        # A connection per batch being written (a job writes several batches of media at once), and two more.
        pool_size = settings.worker_max_jobs * settings.commit_media_batches_at_once + 2
        engine = create_engine(settings.database_url, pool_size=pool_size)
        queue = await ImportQueue.connect(
            settings.redis_url, settings.queue_name, settings.commit_jobs_per_import
        )
        ctx["engine"] = engine
        ctx["retention_days"] = settings.retention_days
        session_factory = create_session_factory(engine)
        leases = RunnerLeases(session_factory, settings.runner_lease_seconds)
        ctx["runtime"] = CommitRuntime(
            session_factory=session_factory,
            queue=queue,
            runner_options=RunnerOptions(
                batch_size=settings.commit_batch_size,
                media_batch_size=settings.commit_media_batch_size,
                media_lanes=settings.commit_media_batches_at_once,
            ),
            stalled_after_seconds=settings.stalled_after_seconds,
            media=media_services(settings),
            leases=leases,
            engine=engine,
        )
        ctx["lease_task"] = asyncio.create_task(leases.keep_renewing(), name="lease-renewals")
        # Webhook messages are sent beside the jobs, never in a job's slot or an import's way.
        deliveries = DeliveryLoop(ctx["runtime"].session_factory, DeliveryOptions.from_settings(settings))
        ctx["webhooks"] = deliveries
        ctx["webhook_task"] = asyncio.create_task(deliveries.run(), name="webhook-deliveries")
        checks = periodic_checks(settings, ctx)
        ctx["checks_task"] = asyncio.create_task(run_periodically(checks), name="periodic-checks")

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "lease_task" in ctx:
            ctx["lease_task"].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ctx["lease_task"]
        if "checks_task" in ctx:
            ctx["checks_task"].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ctx["checks_task"]
        if "webhook_task" in ctx:
            ctx["webhook_task"].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ctx["webhook_task"]
            await ctx["webhooks"].aclose()
        if "runtime" in ctx:
            await ctx["runtime"].queue.close()
            await ctx["runtime"].media.aclose()
        if "engine" in ctx:
            await ctx["engine"].dispose()

    return ReconnectingWorker(
        functions=[
            func(run_import, name=RUN_IMPORT, keep_result=0, max_tries=MAX_TRIES + 1),
            func(validate_import, name=VALIDATE_IMPORT, keep_result=0, max_tries=1),
        ],
        redis_settings=redis_settings(settings.redis_url),
        queue_name=settings.queue_name,
        max_jobs=settings.worker_max_jobs,
        job_timeout=24 * 3600,
        keep_result=0,
        poll_delay=0.2,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
        burst=burst,
    )
