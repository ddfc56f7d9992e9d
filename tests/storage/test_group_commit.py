"""SQLite group commit: requests share a transaction, but each succeeds or fails on its own."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from pathlib import Path

import pytest

from subgroups.storage.group_commit import SqliteWriter


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "writer.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")
    return path


def _values(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [v for (v,) in conn.execute("SELECT v FROM t ORDER BY v")]


def _insert(*values: int):  # type: ignore[no-untyped-def]  # returns a work function
    def work(conn: sqlite3.Connection) -> int:
        for v in values:
            conn.execute("INSERT INTO t (v) VALUES (?)", (v,))
        return len(values)

    return work


async def test_a_failing_request_writes_nothing_and_the_rest_of_its_batch_commits(
    database: Path,
) -> None:
    writer = SqliteWriter(lambda: _connect(database))
    try:
        # Submitted together, so they share transactions; the third inserts 3 then fails on 1.
        outcomes = await asyncio.gather(
            writer.run(_insert(1)),
            writer.run(_insert(2)),
            writer.run(_insert(3, 1)),
            writer.run(_insert(4)),
            return_exceptions=True,
        )
    finally:
        writer.close()

    assert outcomes[0] == 1
    assert outcomes[1] == 1
    assert isinstance(outcomes[2], sqlite3.IntegrityError)
    assert outcomes[3] == 1
    assert _values(database) == [1, 2, 4]


async def test_every_answer_comes_after_its_commit(database: Path) -> None:
    writer = SqliteWriter(lambda: _connect(database))
    try:
        for value in range(5):
            await writer.run(_insert(value))
            # A separate connection sees the row as soon as the caller is answered.
            assert value in _values(database)
    finally:
        writer.close()


async def test_many_concurrent_requests_are_all_answered(database: Path) -> None:
    writer = SqliteWriter(lambda: _connect(database))
    try:
        results = await asyncio.gather(*(writer.run(_insert(v)) for v in range(500)))
    finally:
        writer.close()

    assert results == [1] * 500
    assert _values(database) == list(range(500))


async def test_a_failed_connection_is_an_answer_and_the_next_request_connects_again(
    database: Path,
) -> None:
    # The file can be busy at the moment the writer opens it (another process switching it to
    # WAL, say). Callers then get that error instead of waiting for ever on a dead thread.
    attempts: list[int] = []

    def connect() -> sqlite3.Connection:
        attempts.append(1)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("database is locked")
        return _connect(database)

    writer = SqliteWriter(connect)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await asyncio.wait_for(writer.run(_insert(1)), timeout=10)
        assert await asyncio.wait_for(writer.run(_insert(2)), timeout=10) == 1
    finally:
        writer.close()

    assert _values(database) == [2]
    assert len(attempts) >= 2


def _hold(path: Path) -> int:
    """Takes the writer lock as another process's writer would; closing the descriptor frees it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


async def test_a_write_waits_while_another_writer_holds_the_lock(
    database: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "writer.db-writer.lock"
    writer = SqliteWriter(lambda: _connect(database), lock_path=str(lock))
    held = _hold(lock)
    try:
        pending = asyncio.ensure_future(writer.run(_insert(1)))
        await asyncio.sleep(0.3)
        assert not pending.done()
        assert _values(database) == []
        os.close(held)
        held = -1
        assert await asyncio.wait_for(pending, timeout=10) == 1
    finally:
        if held >= 0:
            os.close(held)
        writer.close()

    assert _values(database) == [1]


async def test_the_lock_is_free_between_transactions(database: Path, tmp_path: Path) -> None:
    lock = tmp_path / "writer.db-writer.lock"
    writer = SqliteWriter(lambda: _connect(database), lock_path=str(lock))
    try:
        await writer.run(_insert(1))
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if held
        finally:
            os.close(fd)
        await writer.run(_insert(2))
    finally:
        writer.close()

    assert _values(database) == [1, 2]


async def test_a_lock_file_that_cannot_be_made_is_an_answer_and_writes_nothing(
    database: Path, tmp_path: Path
) -> None:
    writer = SqliteWriter(
        lambda: _connect(database), lock_path=str(tmp_path / "missing" / "writer.lock")
    )
    try:
        for value in (1, 2):  # the writer is still there to answer the second
            with pytest.raises(FileNotFoundError):
                await asyncio.wait_for(writer.run(_insert(value)), timeout=10)
    finally:
        writer.close()

    assert _values(database) == []
