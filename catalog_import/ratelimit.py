"""Request limits counted in Redis with a sliding window, so that every API process shares one count:
requests per integration (``CATALOG_IMPORT_RATE_LIMIT``, e.g. ``1200/minute``), and wrong secrets per client
id and address (``CATALOG_IMPORT_SIGN_IN_FAILURE_LIMIT``). Over a limit a request gets 429 ``RATE_LIMITED``
with ``Retry-After``. While Redis cannot be reached requests pass: a limit protects the server and must not
be what makes it unavailable."""

import math
import time

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from catalog_import.errors import ApiError

logger = structlog.get_logger(__name__)


class RateLimited(ApiError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int, what: str = "Too many requests") -> None:
        super().__init__(f"{what}; retry in {retry_after} s")
        self.headers = {"Retry-After": str(retry_after)}


def parse_rate_limit(value: str) -> RateLimitItem | None:
    """``"1200/minute"``, ``"20 per second"``…; empty or ``off``: no limit."""
    if value.strip().lower() in ("", "off", "none", "0"):
        return None
    return parse(value)


class RateLimiter:
    def __init__(self, redis_url: str, limit: RateLimitItem | None, key_prefix: str) -> None:
        self.limit = limit
        # A pool of its own, closed with the limiter.
        self._pool = ConnectionPool.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            key_prefix=key_prefix,
            wrap_exceptions=True,
            connection_pool=self._pool,  # type: ignore[arg-type]
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage) if limit is not None else None

    async def check(self, key: str) -> None:
        """Count a request under ``key``; raise ``RateLimited`` when it is over the limit."""
        if self._limiter is None or self.limit is None:
            return
        try:
            if await self._limiter.hit(self.limit, key):
                return
            wait = await self._seconds_until_allowed(key)
        except StorageError as exc:
            logger.warning("rate limit not checked: Redis unavailable", error=str(exc))
            return
        raise RateLimited(wait)

    async def seconds_until_allowed(self, key: str) -> int | None:
        """Without counting anything: how long ``key`` must wait, or None when it is within the limit."""
        if self._limiter is None or self.limit is None:
            return None
        try:
            if await self._limiter.test(self.limit, key):
                return None
            return await self._seconds_until_allowed(key)
        except StorageError as exc:
            logger.warning("rate limit not checked: Redis unavailable", error=str(exc))
            return None

    async def count(self, key: str) -> None:
        """Count one more under ``key``, whether or not it is over the limit."""
        if self._limiter is None or self.limit is None:
            return
        try:
            await self._limiter.hit(self.limit, key)
        except StorageError as exc:
            logger.warning("rate limit not counted: Redis unavailable", error=str(exc))

    async def _seconds_until_allowed(self, key: str) -> int:
        assert self._limiter is not None and self.limit is not None
        stats = await self._limiter.get_window_stats(self.limit, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def aclose(self) -> None:
        await self._pool.aclose()
