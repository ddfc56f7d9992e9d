"""The stores rate-limit counters live in: this process's memory, and Redis when configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from limits.aio.storage import MemoryStorage, RedisStorage

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool

# A rate-limit check must never hold a request up for long: a Redis that does not answer within
# this is treated as down (the service then counts in memory; see services/ratelimits.py).
REDIS_TIMEOUT_SECONDS = 0.5


class CounterStores:
    def __init__(self, redis_url: str | None, *, prefix: str) -> None:
        self.local = MemoryStorage()
        self._pool: ConnectionPool | None = None
        self.shared: RedisStorage | None = None
        if redis_url is not None:
            # Imported only when used: redis-py takes a noticeable share of start-up time.
            from redis.asyncio import ConnectionPool
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # No retries: redis-py would otherwise back off and retry for seconds on a dead server.
            self._pool = ConnectionPool.from_url(
                redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
            self.shared = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=prefix,
                # limits types its pass-through options as scalars; redis-py takes the pool as is.
                connection_pool=self._pool,  # type: ignore[arg-type]
            )

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
