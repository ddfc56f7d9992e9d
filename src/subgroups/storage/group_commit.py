"""Group commit for SQLite: one writer thread, many requests per transaction.

SQLite admits one writer at a time, and with `synchronous=FULL` each commit waits for the disk.
Requests that arrive while a transaction is being written queue up; the writer thread then runs
all of them in the next transaction, each inside its own SAVEPOINT, and commits once. A request
that fails is rolled back to its savepoint, so it writes nothing and the others in the batch still
commit. Every caller is answered only after the COMMIT that holds its work has returned, so a
success still means durably written.

Work runs synchronously on the raw `sqlite3` connection in the writer thread: one hop between the
event loop and the thread per request, instead of one per statement. This is the only connection
that writes (see `sqlite_database.py`): every write of the process, not only the set endpoints',
is a job here.

Several worker processes on one file each have their own writer. SQLite's busy handler makes a
writer that finds the file locked sleep, for up to 100 ms at a time, and retry; meanwhile the
writer holding the lock commits and begins its next transaction at once, so a sleeper can miss
every chance for seconds (BENCHMARKS.md, target 6, has the figures). So the
writers also take an advisory lock on a file beside the database (`<database>-writer.lock`,
flock(2)) for each transaction: a writer waits for it in the kernel and is woken the moment it
is released, instead of sleeping on a guess. SQLite's own locking still decides who writes; this
lock only decides which writer tries next, and another program that writes without it still
gets the busy handler. The wait has no time limit of its own: the lock is held only from BEGIN
to COMMIT of one batch (whose BEGIN has SQLite's busy timeout), and the kernel frees it when the
process holding it dies.

WAL checkpoints (copying committed pages back into the database file, with their own flush) run
in a second thread every second, so a commit never waits for one; the writer's own automatic
checkpoint stays on, at a higher threshold, only as a backstop should that thread fall behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from subgroups.services.metrics import Metrics

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]
# Enough to amortise one commit, small enough that no transaction grows large.
MAX_BATCH: Final = 256
CHECKPOINT_SECONDS: Final = 1.0
BACKSTOP_CHECKPOINT_PAGES: Final = 20_000  # about 80 MB of WAL (SQLite's default: 1,000 pages)

_Job = tuple[asyncio.Future[Any], Work]
_STOP: Final = None


class SqliteWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        lock_path: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`lock_path`: the file on whose lock the writers of several processes take turns (see
        above); None for a database no other process writes (in memory)."""
        self._connect = connect
        self._metrics = metrics
        self._writer_lock = _WriterLock(lock_path)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._stopping = threading.Event()
        # Set once the writer has its connection: that first connection is the one that puts the
        # file in WAL mode, and the checkpointer waits for it rather than race it to the switch.
        self._writer_ready = threading.Event()
        self._lock = threading.Lock()

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `work` in a write transaction; returns once that transaction is committed.

        `work` must not commit or roll back: it runs inside a savepoint of a shared transaction.
        """
        self._start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put((future, work))
        return await future

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            checkpointer, self._checkpointer = self._checkpointer, None
        if thread is not None:
            self._jobs.put(_STOP)
            thread.join()
        if checkpointer is not None:
            self._stopping.set()
            checkpointer.join()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._stopping.clear()
                self._writer_ready.clear()
                self._thread = threading.Thread(
                    target=self._loop, name="sqlite-writer", daemon=True
                )
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop, name="sqlite-checkpointer", daemon=True
                )
                self._thread.start()
                self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stopping.wait(CHECKPOINT_SECONDS):
                if not self._writer_ready.is_set():
                    continue
                # PASSIVE: copies what no reader still needs, never blocks the writer. Another
                # process may hold the file busy; the next round (or the backstop) catches up.
                try:
                    conn = conn or self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError:
                    continue
        finally:
            if conn is not None:
                conn.close()

    def _loop(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        self._jobs.put(_STOP)  # finish this batch, then stop
                        break
                    batch.append(more)
                if self._metrics is not None:
                    self._metrics.writer_batch_size.observe(len(batch))
                    self._metrics.writer_queue_depth.set(self._jobs.qsize())
                if conn is None:
                    try:
                        conn = self._open()
                    except sqlite3.Error as error:  # answered, and the next batch tries again
                        _answer([(job, False, error) for job in batch])
                        continue
                _answer(self._write(conn, batch))
        finally:
            self._writer_lock.close()
            if conn is not None:
                conn.close()

    def _open(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
        except BaseException:
            conn.close()
            raise
        self._writer_ready.set()
        return conn

    def _write(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[tuple[_Job, bool, Any]]:
        try:
            self._writer_lock.acquire()
        except OSError as error:  # the lock file cannot be made: nothing of the batch is written
            return [(job, False, error) for job in batch]
        try:
            return self._transaction(conn, batch)
        finally:
            self._writer_lock.release()

    def _transaction(
        self, conn: sqlite3.Connection, batch: list[_Job]
    ) -> list[tuple[_Job, bool, Any]]:
        outcomes: list[tuple[_Job, bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT request")
                try:
                    result = job[1](conn)
                except Exception as error:
                    conn.execute("ROLLBACK TO request")
                    outcomes.append((job, False, error))
                else:
                    outcomes.append((job, True, result))
                conn.execute("RELEASE request")
            began = time.perf_counter()
            conn.execute("COMMIT")
            if self._metrics is not None:
                self._metrics.writer_commit_seconds.observe(time.perf_counter() - began)
        except Exception as error:  # BEGIN or COMMIT failed: nothing of the batch is written
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(job, False, error) for job in batch]
        return outcomes


class _WriterLock:
    """flock(2) on the file at `path`, held for one transaction at a time; nothing without a path.

    Used by the writer thread only. The file is opened once and closed with the writer.
    """

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._path is None:
            return
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # also releases the lock, should it still be held
            self._fd = None


def _answer(outcomes: list[tuple[_Job, bool, Any]]) -> None:
    """Hands the outcomes back to the event loops that wait for them, one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool, Any]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0][0].get_loop(), []).append(outcome)
    for loop, mine in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, mine)


def _settle(outcomes: list[tuple[_Job, bool, Any]]) -> None:
    for (future, _work), ok, value in outcomes:
        if future.done():  # the caller was cancelled; its work is committed all the same
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
