"""The stores rate-limit counters live in: this process's memory, and Redis when configured."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from limits.aio.storage import RedisStorage

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool

# A rate-limit check must never hold a request up for long: a Redis that does not answer within
# this is treated as down (the service then counts in memory; see services/ratelimits.py).
REDIS_TIMEOUT_SECONDS = 0.5
# Windows that have ended are dropped when touched; all of them once there are this many counters
# (or, after a sweep that left many running, twice as many as it left).
SWEEP_AT: Final = 10_000


class _Window:
    __slots__ = ("count", "ends_at")

    def __init__(self, ends_at: float) -> None:
        self.count = 0
        self.ends_at = ends_at


class LocalCounters:
    """Fixed-window counters in this process's memory (a `CounterStore`).

    `limits` has one of these too, but it takes an asyncio lock for every increment and, whenever
    its last sweep of ended windows has finished (under load, that is after every request), starts
    a task for the next: about 25 µs a request. The counters are only touched from the event loop,
    which runs one request at a time between awaits, so a dict needs no lock.
    """

    def __init__(self, clock: Callable[[], float] = time.time, *, sweep_at: int = SWEEP_AT) -> None:
        self._clock = clock
        self._sweep_at = sweep_at
        self._next_sweep = sweep_at
        self._windows: dict[str, _Window] = {}

    def __len__(self) -> int:
        """How many windows are kept, ended ones not yet dropped included."""
        return len(self._windows)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._clock()
        window = self._windows.get(key)
        if window is None or window.ends_at <= now:
            if len(self._windows) >= self._next_sweep:
                self._sweep(now)
            window = self._windows[key] = _Window(now + expiry)
        window.count += amount
        return window.count

    async def get(self, key: str) -> int:
        window = self._windows.get(key)
        return window.count if window is not None and window.ends_at > self._clock() else 0

    async def get_expiry(self, key: str) -> float:
        window = self._windows.get(key)
        now = self._clock()
        return window.ends_at if window is not None and window.ends_at > now else now

    def _sweep(self, now: float) -> None:
        self._windows = {k: w for k, w in self._windows.items() if w.ends_at > now}
        # With more running windows than the threshold, sweeping at every new window would cost
        # a pass over all of them each time; doubling keeps the sweeps' cost per window constant.
        self._next_sweep = max(self._sweep_at, 2 * len(self._windows))


class CounterStores:
    def __init__(self, redis_url: str | None, *, prefix: str) -> None:
        self.local = LocalCounters()
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
