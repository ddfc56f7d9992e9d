"""SQLite: one writer thread that every write goes through, reader threads, and the pragmas.

Writes: `SqliteWriter` (`group_commit.py`) owns the only connection that writes, and runs every
write there, batched with others into one transaction (group commit), each in a savepoint of its
own. The set endpoints hand it plain `sqlite3` work (`sqlite_subscriptions.py`); every other write
(`Database.write`) gets a SQLAlchemy `Connection` over that same connection, which leaves BEGIN,
COMMIT and ROLLBACK to the writer. There is no other writing connection, so a write never meets
SQLite's busy handler inside this process, and the writers of several processes take turns on the
writer's lock file.

Reads: `snapshot()` reads through SQLAlchemy's async driver (a pool of read connections), and
status/get reads in threads of its own (`SqliteReaders`), one hand-over per request. In WAL mode
a read never waits for the writer.

The pragmas: WAL, foreign keys on, a busy timeout (for readers at a checkpoint, and for writers
of other programs), and `synchronous=FULL` by default so an acknowledged write survives a power
cut, not just a process crash.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from sqlalchemy import ColumnElement, Engine, Table, create_engine, event, func
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import StaticPool

from subgroups.services.metrics import Metrics
from subgroups.storage.engine import Database, T, WriteFn, async_url
from subgroups.storage.failures import unavailable_on_failure
from subgroups.storage.group_commit import SqliteWriter
from subgroups.storage.sqlite_readers import SqliteReaders

BUSY_TIMEOUT_MS: Final = 10_000


class SqliteDatabase(Database):
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        synchronous: str = "FULL",
        metrics: Metrics | None = None,
    ) -> None:
        self.url = url
        path = make_url(url).database or ":memory:"

        def connect() -> sqlite3.Connection:
            return _connect(path, synchronous)

        # A connection of its own, for a read that outlives one hand-over (a streamed export).
        self.connect = connect
        self.writer = SqliteWriter(
            connect,
            lock_path=None if path in ("", ":memory:") else f"{path}-writer.lock",
            metrics=metrics,
        )
        self.readers = SqliteReaders(connect, threads=pool_size)
        self._reader = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=0)
        readers = self._reader.sync_engine
        event.listen(readers, "connect", lambda dbapi, _record: _configure(dbapi, synchronous))
        # The driver leaves transactions to us (see _configure): a snapshot needs its BEGIN.
        event.listen(readers, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        # The writer's connection as SQLAlchemy sees it, made when first used in the writer thread.
        self._bound: tuple[sqlite3.Connection, Engine] | None = None

    async def write(self, fn: WriteFn[T]) -> T:
        with unavailable_on_failure():
            return await self.writer.run(lambda raw: self._run_bound(raw, fn))

    def _run_bound(self, raw: sqlite3.Connection, fn: WriteFn[T]) -> T:
        """In the writer thread, inside the batch's transaction and the caller's savepoint."""
        if self._bound is None or self._bound[0] is not raw:
            self._bound = (raw, _engine_over(raw))
        with self._bound[1].connect() as conn:
            return fn(conn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        with unavailable_on_failure():
            async with self._reader.connect() as conn, conn.begin():
                yield conn

    async def dispose(self) -> None:
        await asyncio.to_thread(self.writer.close)
        await asyncio.to_thread(self.readers.close)
        if self._bound is not None:
            self._bound[1].dispose()
        await self._reader.dispose()

    def insert(self, table: Table) -> sqlite.Insert:
        return sqlite.insert(table)

    def utc_day(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # Timestamps are stored as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'.
        return func.substr(column, 1, 10)


class _WriterTransaction:
    """The writer's connection, with the transaction calls SQLAlchemy makes turned into no-ops.

    The writer thread begins and commits each batch and rolls back a failed caller's savepoint;
    SQLAlchemy's own commit on leaving a block, or rollback on returning the connection, would end
    the whole batch's transaction under the other callers.
    """

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


def _engine_over(raw: sqlite3.Connection) -> Engine:
    return create_engine(
        "sqlite://",
        creator=lambda: _WriterTransaction(raw),
        poolclass=StaticPool,
        pool_reset_on_return=None,
    )


def _configure(dbapi_connection: Any, synchronous: str) -> None:
    # Take over transaction control from the driver, so that BEGIN is ours to write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # WAL is a property of the file, kept once set. Switching takes an exclusive lock that does
    # not wait on the busy timeout, so only a connection that finds the file in another mode asks.
    cursor.execute("PRAGMA journal_mode")
    (mode,) = cursor.fetchone()
    if mode.lower() != "wal":
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute(f"PRAGMA synchronous = {synchronous}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    # The busy timeout from the first statement on: the set-up PRAGMAs can meet a busy file too.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    try:
        _configure(conn, synchronous)
    except BaseException:
        conn.close()
        raise
    return conn
