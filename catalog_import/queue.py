"""The job queue (arq on Redis): handing committed imports to the workers."""

import time
import uuid

from arq.connections import ArqRedis, RedisSettings, create_pool

RUN_IMPORT = "run_import"


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


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

    async def enqueue_import(self, import_id: uuid.UUID, *, again: bool = False) -> None:
        """Queue the import's jobs. Ids are fixed per import so a repeated commit queues nothing new;
        ``again`` (stalled imports) uses fresh ids, as a dead worker's job may still hold the old ones."""
        suffix = f"r{time.time_ns()}" if again else "c"
        for n in range(self.jobs_per_import):
            await self.pool.enqueue_job(
                RUN_IMPORT,
                import_id.hex,
                _job_id=f"import:{import_id.hex}:{suffix}:{n}",
                _queue_name=self.queue_name,
            )

    async def depth(self) -> int:
        return int(await self.pool.zcard(self.queue_name))

    async def close(self) -> None:
        await self.pool.aclose()
