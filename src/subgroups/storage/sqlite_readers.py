"""Reads on SQLite: on the event loop's own thread, or, when the file is busy, in reader threads.

A read here is a single statement over a few index entries (status/get's lookup, user/status's
page): a tenth of a millisecond of SQLite's time. Handing it to another thread costs more than
that: through SQLAlchemy's async driver every statement is two hand-overs, and even one hand-over
to a thread of our own makes the event loop and that thread wait for the GIL in turn, which under
load is most of a request's time and all of its tail (BENCHMARKS.md, the profile of status/get).
So a read runs where the request is, on a connection of that thread, in one read transaction: a
WAL snapshot, which never waits for the writer.

A WAL reader can still meet a busy file, rarely: while another connection recovers the WAL after
a crash, or resets it. The loop's connection never waits for that (its busy timeout is 0): the read
goes to a reader thread instead, whose connection waits up to the usual busy timeout without
holding up every other request of the process.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class SqliteReaders:
    def __init__(self, connect: Callable[[], sqlite3.Connection], *, threads: int) -> None:
        self._connect = connect
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def run(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `read` in a read-only transaction: here when it can, else on a reader thread."""
        try:
            return self._read(read, wait=False)
        except sqlite3.OperationalError as error:
            if not _busy(error):
                raise
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, read)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def _read(self, read: Callable[[sqlite3.Connection], T], wait: bool = True) -> T:
        conn = self._connection(wait)
        conn.execute("BEGIN")
        try:
            return read(conn)
        finally:
            conn.execute("COMMIT")

    def _connection(self, wait: bool) -> sqlite3.Connection:
        """This thread's connection: one per thread, so no two reads ever share one."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            # A reader that tried to write would fail rather than take the write lock.
            conn.execute("PRAGMA query_only = ON")
            if not wait:
                conn.execute("PRAGMA busy_timeout = 0")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn


def _busy(error: sqlite3.OperationalError) -> bool:
    # Extended codes (SQLITE_BUSY_RECOVERY ...) keep the primary code in their low byte.
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
