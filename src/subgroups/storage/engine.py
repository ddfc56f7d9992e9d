"""Connections, and every difference between SQLite and PostgreSQL.

SQLite: WAL, foreign keys on, a busy timeout, `synchronous=FULL` by default so an acknowledged write
survives a power cut, not just a process crash. Writes go through a separate engine whose transactions
start with `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can fail at once with
SQLITE_BUSY when another connection wrote in between, which the busy timeout does not retry. That
engine has one connection, so writers in one process queue in the pool instead of spinning on the
file lock; reads use their own pool and never take the write lock. status/get reads in threads of
its own (`SqliteReaders`), one hand-over per request.

The set endpoints' write path (`storage/subscriptions.py`) skips SQLAlchemy, whose per-statement
cost is larger than the statements themselves there: on SQLite it runs in `SqliteWriter`, one
thread with group commit (see `storage/group_commit.py`); on PostgreSQL it runs on a raw asyncpg
pool of its own, one statement per request where it can.

PostgreSQL: one SQLAlchemy pool for the rest; rows are locked explicitly (see `lock_ids`).
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Literal

import asyncpg
from sqlalchemy import ColumnElement, Date, Table, cast, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from subgroups.storage.group_commit import SqliteWriter
from subgroups.storage.sqlite_readers import SqliteReaders

DialectName = Literal["sqlite", "postgresql"]
SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(url: str) -> str:
    """`sqlite:///x.db` or `postgresql://…` as the async driver URL SQLAlchemy needs."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite or postgresql"
    )


def sync_url(url: str) -> str:
    """The URL Alembic uses: same database, through the async driver run synchronously."""
    return async_url(url)


def dialect_of(url: str) -> DialectName:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def _configure_sqlite(dbapi_connection: Any, synchronous: str) -> None:
    # Take over transaction control from the driver so that BEGIN is ours to write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    # WAL is a property of the file, kept once set. Switching takes an exclusive lock that does
    # not wait on the busy timeout, so only a connection that finds the file in another mode asks.
    cursor.execute("PRAGMA journal_mode")
    (mode,) = cursor.fetchone()
    if mode.lower() != "wal":
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute(f"PRAGMA synchronous = {synchronous}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_engine(url: str, *, synchronous: str, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        _configure_sqlite(dbapi_connection, synchronous)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The engines of one database, and the dialect-specific statements the repositories need."""

    def __init__(self, url: str, *, pool_size: int = 10, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.dialect: DialectName = dialect_of(url)
        driver_url = async_url(url)
        self._pool_size = pool_size
        self._pg_pool: asyncpg.Pool | None = None
        self._pg_pool_lock = asyncio.Lock()
        self.sqlite_writer: SqliteWriter | None = None
        self.sqlite_readers: SqliteReaders | None = None
        if self.dialect == "sqlite":
            self._writer = _sqlite_engine(
                driver_url, synchronous=sqlite_synchronous, immediate=True, pool_size=1
            )
            self._reader = _sqlite_engine(
                driver_url, synchronous=sqlite_synchronous, immediate=False, pool_size=pool_size
            )
            path = make_url(url).database or ":memory:"
            self.sqlite_writer = SqliteWriter(
                lambda: _sqlite_connect(path, sqlite_synchronous),
                lock_path=None if path in ("", ":memory:") else f"{path}-writer.lock",
            )
            self.sqlite_readers = SqliteReaders(
                lambda: _sqlite_connect(path, sqlite_synchronous), threads=pool_size
            )
        else:
            self._writer = create_async_engine(driver_url, pool_size=pool_size, max_overflow=0)
            self._reader = self._writer

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One unit of work that may write; committed (durably) when the block exits cleanly."""
        async with self._writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction: a consistent view that takes no write lock.

        Every statement in it sees the same committed state: on SQLite a read transaction does,
        and on PostgreSQL it takes REPEATABLE READ (under the default, READ COMMITTED, each
        statement would see what was committed when it began)."""
        async with self._reader.connect() as conn:
            if self.dialect == "postgresql":
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def raw_postgres(self) -> AsyncIterator[asyncpg.Connection]:
        """A raw asyncpg connection, for the statements where SQLAlchemy's overhead matters.

        Its pool is separate from SQLAlchemy's and made on first use, in the running event loop.
        Connections come back without a reset query (a round trip per request): the code using
        them keeps no session state, and asyncpg still ends any transaction left open.
        """
        pool = self._pg_pool or await self._make_pg_pool()
        async with pool.acquire() as conn:
            yield conn

    async def _make_pg_pool(self) -> asyncpg.Pool:
        async with self._pg_pool_lock:
            if self._pg_pool is None:
                self._pg_pool = await asyncpg.create_pool(
                    _asyncpg_dsn(self.url),
                    min_size=1,
                    max_size=self._pool_size,
                    reset=_keep_session,
                )
            return self._pg_pool

    async def dispose(self) -> None:
        if self.sqlite_writer is not None:
            await asyncio.to_thread(self.sqlite_writer.close)
        if self.sqlite_readers is not None:
            await asyncio.to_thread(self.sqlite_readers.close)
        if self._pg_pool is not None:
            await self._pg_pool.close()
            self._pg_pool = None
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that understands ON CONFLICT in this dialect."""
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    def utc_day(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """The UTC calendar day of a Timestamp column (a date, or an ISO date string on SQLite)."""
        if self.dialect == "postgresql":
            return cast(func.timezone("UTC", column), Date)
        # SQLite keeps timestamps as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'.
        return func.substr(column, 1, 10)

    def for_update(self) -> bool:
        """Whether row locks (SELECT … FOR UPDATE) exist and are needed in this dialect."""
        return self.dialect == "postgresql"


def _sqlite_connect(path: str, synchronous: str) -> sqlite3.Connection:
    # The busy timeout from the first statement on: the set-up PRAGMAs can meet a busy file too.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
    )
    _configure_sqlite(conn, synchronous)
    return conn


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """No reset query on release: see Database.raw_postgres."""


def lock_ids(keys: Iterable[str]) -> list[int]:
    """The advisory lock ids of `keys`, deduplicated and sorted: the one order every caller uses."""
    return sorted({_lock_id(key) for key in keys})


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
