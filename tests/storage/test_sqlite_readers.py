"""SQLite reads run on the event loop's thread, and go to a reader thread when the file is busy.

A read on the loop's thread must never wait on SQLite's busy handler: that would stop every other
request of the process. When the file is busy it is read on a reader thread instead, which waits.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from subgroups.container import Services
from subgroups.storage.sqlite_database import SqliteDatabase

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def where_and_what(conn: sqlite3.Connection) -> tuple[str, int]:
    (count,) = conn.execute("SELECT count(*) FROM workspaces").fetchone()
    return threading.current_thread().name, count


async def test_a_read_runs_on_the_thread_that_asked(services: Services) -> None:
    assert isinstance(services.db, SqliteDatabase)

    thread, _count = await services.db.readers.run(where_and_what)

    assert thread == threading.current_thread().name


def busy() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY
    return error


async def test_a_read_that_meets_a_busy_file_is_read_again_on_a_reader_thread(
    services: Services,
) -> None:
    db = services.db
    assert isinstance(db, SqliteDatabase)
    await services.workspaces.create(name="Acme")
    asker = threading.current_thread().name
    timeouts: dict[str, int] = {}

    def read(conn: sqlite3.Connection) -> tuple[str, int]:
        (timeouts[threading.current_thread().name],) = conn.execute(
            "PRAGMA busy_timeout"
        ).fetchone()
        if threading.current_thread().name == asker:
            # What SQLite answers while another connection recovers or resets the WAL.
            raise busy()
        return where_and_what(conn)

    thread, count = await db.readers.run(read)

    assert thread.startswith("sqlite-reader")
    assert count == 1
    # The loop's connection never waits for the file; the reader thread's does.
    assert timeouts.pop(asker) == 0
    assert list(timeouts.values()) == [10_000]


async def test_other_errors_are_not_read_again(services: Services) -> None:
    assert isinstance(services.db, SqliteDatabase)
    threads: list[str] = []

    def read(conn: sqlite3.Connection) -> object:
        threads.append(threading.current_thread().name)
        return conn.execute("SELECT * FROM no_such_table").fetchall()

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await services.db.readers.run(read)
    assert threads == [threading.current_thread().name]
