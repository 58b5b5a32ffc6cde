"""The job queue (arq on Redis): handing committed imports to the workers, an arq worker that outlives
Redis restarts, and forgetting a queue that served its purpose."""

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Sequence

import structlog
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

logger = structlog.get_logger(__name__)

RUN_IMPORT = "run_import"
VALIDATE_IMPORT = "validate_import"

# What a command raises while Redis is gone: refused or dropped connections, timeouts, and a WATCH whose
# connection died (redis-py reports that as a WatchError).
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, WatchError, OSError)


def redis_settings(url: str) -> RedisSettings:
    """Connection settings for ``url``. A command that fails because the connection is gone (a restarted
    server, a dropped connection) is sent again on a new connection, three times over about 1.5 s."""
    return dataclasses.replace(
        RedisSettings.from_dsn(url),
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


class ReconnectingWorker(Worker):
    """An arq worker that keeps running while Redis is away. arq's own stops polling at the first command
    Redis fails (the jobs it runs go on, but it takes no new one and ends once they are done); this one logs
    the failure, pauses a little longer each time, and polls again, reconnecting when Redis is back. Jobs
    lost with a Redis that restarted empty are queued again by the stall check."""

    MAX_PAUSE_SECONDS = 5.0
    _redis_failures = 0

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_UNAVAILABLE as exc:
            self._redis_failures += 1
            pause = min(self.poll_delay_s * 2**self._redis_failures, self.MAX_PAUSE_SECONDS)
            logger.warning(
                "redis unavailable", error=f"{type(exc).__name__}: {exc}", failures=self._redis_failures
            )
            await asyncio.sleep(pause)
            return
        if self._redis_failures:
            logger.info("redis available again", failures=self._redis_failures)
            self._redis_failures = 0

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except REDIS_UNAVAILABLE:
                # arq takes a slot (its job counter and semaphore) before it asks Redis whether the job can
                # start, and gives it back when a started job ends: a job Redis failed to start hands it
                # back here, or the worker would run fewer jobs at a time with every failure.
                if job_id.decode() not in self.tasks:
                    self.job_counter -= 1
                    self.sem.release()
                raise


class ImportQueue:
    """Queues the jobs of committed imports. Several jobs per import let idle workers share it; a job
    that runs twice is harmless, since the work itself is claimed in PostgreSQL."""

    def __init__(self, pool: ArqRedis, queue_name: str, jobs_per_import: int) -> None:
        self.pool = pool
        self.queue_name = queue_name
        self.jobs_per_import = jobs_per_import

    @classmethod
    async def connect(cls, redis_url: str, queue_name: str, jobs_per_import: int) -> "ImportQueue":
        pool = await create_pool(redis_settings(redis_url), default_queue_name=queue_name)
        return cls(pool, queue_name, jobs_per_import)

    async def enqueue_import(self, import_id: uuid.UUID, *, again: bool = False) -> bool:
        """Queue the import's jobs. Ids are fixed per import so a repeated commit queues nothing new;
        ``again`` (stalled imports) uses fresh ids, as a dead worker's job may still hold the old ones.

        Returns False when Redis cannot be reached. The import is committed in PostgreSQL all the same,
        and the stall check queues it once it has waited ``stalled_after_seconds``."""
        suffix = f"r{time.time_ns()}" if again else "c"
        jobs = [
            (RUN_IMPORT, (import_id.hex,), f"import:{import_id.hex}:{suffix}:{n}")
            for n in range(self.jobs_per_import)
        ]
        return await self._enqueue(jobs, "import", import_id)

    async def enqueue_validation(
        self, import_id: uuid.UUID, validation_id: uuid.UUID, *, again: bool = False
    ) -> bool:
        """Queue the job of a validation: one, as a rehearsal runs on one connection. ``again`` (a
        validation whose worker is gone) uses a fresh id. Returns False when Redis cannot be reached; the
        stall check queues it then."""
        suffix = f"r{time.time_ns()}" if again else "v"
        job_id = f"validation:{validation_id.hex}:{suffix}"
        return await self._enqueue(
            [(VALIDATE_IMPORT, (import_id.hex, validation_id.hex), job_id)], "validation", import_id
        )

    async def _enqueue(
        self, jobs: Sequence[tuple[str, tuple[str, ...], str]], what: str, import_id: uuid.UUID
    ) -> bool:
        """Queue ``jobs`` (function, arguments, job id); False, logged, when Redis cannot be reached."""
        try:
            for function, args, job_id in jobs:
                await self.pool.enqueue_job(function, *args, _job_id=job_id, _queue_name=self.queue_name)
        except REDIS_UNAVAILABLE as exc:
            logger.warning(
                f"{what} not queued: redis unavailable; the stall check queues it",
                import_id=import_id.hex,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        return True

    async def depth(self) -> int:
        return int(await self.pool.zcard(self.queue_name))

    async def close(self) -> None:
        await self.pool.aclose()


async def forget_queue(redis_url: str, queue_name: str, job_patterns: Sequence[str] = ()) -> None:
    """Remove what a test run or a benchmark left in Redis under its own queue name: the queue (with any
    import jobs left in it), the keys named after it (the workers' health check, the rate-limit counts),
    and the job keys matching ``job_patterns`` (glob patterns of job ids)."""
    client = Redis.from_url(redis_url)
    try:
        keys: list[bytes | str] = [queue_name]
        keys.extend([key async for key in client.scan_iter(match=f"{queue_name}:*")])
        for pattern in job_patterns:
            keys.extend([key async for key in client.scan_iter(match=f"arq:*:{pattern}")])
        await client.delete(*keys)
    finally:
        await client.aclose()
