"""Reads on SQLite in a few threads of their own, each with its own connection.

Through SQLAlchemy's async driver every statement is two hand-overs between the event loop and a
connection thread, each of which waits for the GIL. A read here is one hand-over: the whole read
runs in a reader thread, in one read transaction, a WAL snapshot that never blocks the writer.
sqlite3 releases the GIL while SQLite works, so the threads read in parallel with the event loop.
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
        """Runs `read` in a read-only transaction on a reader thread's connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, read)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def _read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            # A reader that tried to write would fail rather than take the write lock.
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        conn.execute("BEGIN")
        try:
            return read(conn)
        finally:
            conn.execute("COMMIT")
