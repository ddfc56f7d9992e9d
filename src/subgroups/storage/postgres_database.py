"""PostgreSQL: a SQLAlchemy pool for most statements, and a raw asyncpg pool for the hot ones.

`write(fn)` runs `fn` on a SQLAlchemy connection in a transaction of its own. The set endpoints'
writes and the status lookup skip SQLAlchemy, whose per-statement cost is larger than the
statements themselves there: they run on `raw()`, an asyncpg pool of their own. Row locks are
taken explicitly (`lock_ids` for identifiers that no unique key guards).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Date, Table, cast, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import QueuePool

from subgroups.services.metrics import Metrics
from subgroups.storage.engine import Database, T, WriteFn, async_url
from subgroups.storage.failures import unavailable_on_failure


class PostgresDatabase(Database):
    def __init__(self, url: str, *, pool_size: int = 10, metrics: Metrics | None = None) -> None:
        self.url = url
        self._pool_size = pool_size
        self._engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=0)
        self._raw_pool: asyncpg.Pool | None = None
        self._raw_pool_lock = asyncio.Lock()
        self._raw_lending = PoolLending(metrics, "raw", pool_size)
        self._lending = PoolLending(metrics, "sqlalchemy", pool_size)

    async def write(self, fn: WriteFn[T]) -> T:
        with unavailable_on_failure():
            full, asked = self._full(), time.perf_counter()
            async with self._engine.begin() as conn:
                with self._lending.lent(full=full, asked=asked):
                    return await conn.run_sync(fn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        # REPEATABLE READ: under the default, READ COMMITTED, each statement would see what was
        # committed when it began, not when the snapshot did.
        with unavailable_on_failure():
            full, asked = self._full(), time.perf_counter()
            async with self._engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                with self._lending.lent(full=full, asked=asked):
                    async with conn.begin():
                        yield conn

    def _full(self) -> bool:
        pool = self._engine.sync_engine.pool
        return (
            self._lending.recording
            and isinstance(pool, QueuePool)
            and pool.checkedout() >= self._pool_size
        )

    @asynccontextmanager
    async def raw(self) -> AsyncIterator[asyncpg.Connection]:
        """A raw asyncpg connection, for the statements where SQLAlchemy's overhead matters.

        Its pool is separate from SQLAlchemy's and made on first use, in the running event loop.
        Connections come back without a reset query (a round trip per request): the code using
        them keeps no session state, and asyncpg still ends any transaction left open.
        """
        with unavailable_on_failure():
            pool = self._raw_pool or await self._make_raw_pool()
            # get_idle_size() walks the pool: only asked when the answer is recorded.
            full = (
                self._raw_lending.recording
                and pool.get_idle_size() == 0
                and pool.get_size() >= self._pool_size
            )
            asked = time.perf_counter() if full else 0.0
            async with pool.acquire() as conn:
                with self._raw_lending.lent(full=full, asked=asked):
                    yield conn

    async def _make_raw_pool(self) -> asyncpg.Pool:
        async with self._raw_pool_lock:
            if self._raw_pool is None:
                self._raw_pool = await asyncpg.create_pool(
                    make_url(self.url)
                    .set(drivername="postgresql")
                    .render_as_string(hide_password=False),
                    min_size=1,
                    max_size=self._pool_size,
                    reset=_keep_session,
                )
            return self._raw_pool

    async def dispose(self) -> None:
        if self._raw_pool is not None:
            await self._raw_pool.close()
            self._raw_pool = None
        await self._engine.dispose()

    def insert(self, table: Table) -> postgresql.Insert:
        return postgresql.insert(table)

    def utc_day(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(func.timezone("UTC", column), Date)


class PoolLending:
    """Counts one pool's connections lent, and the waits for one, in the metrics (if any)."""

    def __init__(self, metrics: Metrics | None, pool: str, size: int) -> None:
        self._metrics = metrics
        self.recording = metrics is not None
        if metrics is not None:
            metrics.pool_size.labels(pool).set(size)
            self._in_use = metrics.pool_in_use.labels(pool)
            self._waits = metrics.pool_waits.labels(pool)
            self._wait_seconds = metrics.pool_wait_seconds.labels(pool)

    @contextmanager
    def lent(self, *, full: bool, asked: float) -> Iterator[None]:
        """While a connection is lent, entered once it is: `full` when none was free at
        `asked` (a time.perf_counter())."""
        if self._metrics is None:
            yield
            return
        if full:
            self._waits.inc()
            self._wait_seconds.inc(time.perf_counter() - asked)
        self._in_use.inc()
        try:
            yield
        finally:
            self._in_use.dec()


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """No reset query on release: see PostgresDatabase.raw."""


def lock_ids(keys: Iterable[str]) -> list[int]:
    """The advisory lock ids of `keys`, deduplicated and sorted: the one order every caller uses."""
    return sorted({_lock_id(key) for key in keys})


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
