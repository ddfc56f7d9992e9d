"""PostgreSQL: a SQLAlchemy pool for most statements, and a raw asyncpg pool for the hot ones.

`write(fn)` runs `fn` on a SQLAlchemy connection in a transaction of its own. The set endpoints'
writes and the status lookup skip SQLAlchemy, whose per-statement cost is larger than the
statements themselves there: they run on `raw()`, an asyncpg pool of their own. Row locks are
taken explicitly (`lock_ids` for identifiers that no unique key guards).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Date, Table, cast, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from subgroups.storage.engine import Database, T, WriteFn, async_url
from subgroups.storage.failures import unavailable_on_failure


class PostgresDatabase(Database):
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self._pool_size = pool_size
        self._engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=0)
        self._raw_pool: asyncpg.Pool | None = None
        self._raw_pool_lock = asyncio.Lock()

    async def write(self, fn: WriteFn[T]) -> T:
        with unavailable_on_failure():
            async with self._engine.begin() as conn:
                return await conn.run_sync(fn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        # REPEATABLE READ: under the default, READ COMMITTED, each statement would see what was
        # committed when it began, not when the snapshot did.
        with unavailable_on_failure():
            async with self._engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    yield conn

    @asynccontextmanager
    async def raw(self) -> AsyncIterator[asyncpg.Connection]:
        """A raw asyncpg connection, for the statements where SQLAlchemy's overhead matters.

        Its pool is separate from SQLAlchemy's and made on first use, in the running event loop.
        Connections come back without a reset query (a round trip per request): the code using
        them keeps no session state, and asyncpg still ends any transaction left open.
        """
        with unavailable_on_failure():
            pool = self._raw_pool or await self._make_raw_pool()
            async with pool.acquire() as conn:
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


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """No reset query on release: see PostgresDatabase.raw."""


def lock_ids(keys: Iterable[str]) -> list[int]:
    """The advisory lock ids of `keys`, deduplicated and sorted: the one order every caller uses."""
    return sorted({_lock_id(key) for key in keys})


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
