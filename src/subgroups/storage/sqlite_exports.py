"""Exports' state reads on SQLite: plain `sqlite3` on a connection of their own, in one read
transaction (a WAL snapshot: the writer never waits for it), fetched in chunks in a thread."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Final

from subgroups.domain.exports import StateCells
from subgroups.storage.exports import CHUNK, SqlExportReader, state_queries
from subgroups.storage.sqlite_database import SqliteDatabase
from subgroups.storage.sqlite_subscriptions import sqlite_time

# Stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC (see tables.Timestamp).
_ISO: Final = "substr({0}, 1, 10) || 'T' || substr({0}, 12) || '+00:00'"
_STATES, _STATES_AS_OF = state_queries(_ISO, "?1", "?2", "?3")


class SqliteExportReader(SqlExportReader):
    def __init__(self, db: SqliteDatabase) -> None:
        super().__init__(db)
        self._connect = db.connect

    def states(self, workspace_id: int, group_id: str | None) -> AsyncIterator[list[StateCells]]:
        return self._chunks(_STATES, (workspace_id, group_id))

    def states_as_of(
        self, workspace_id: int, group_id: str | None, at: datetime
    ) -> AsyncIterator[list[StateCells]]:
        return self._chunks(_STATES_AS_OF, (workspace_id, group_id, sqlite_time(at)))

    async def _chunks(
        self, sql: str, parameters: Sequence[object]
    ) -> AsyncIterator[list[StateCells]]:
        conn = await asyncio.to_thread(_open, self._connect)
        try:
            cursor = await asyncio.to_thread(conn.execute, sql, parameters)
            while rows := await asyncio.to_thread(cursor.fetchmany, CHUNK):
                yield rows
        finally:
            await asyncio.to_thread(_close, conn)


def _open(connect: object) -> sqlite3.Connection:
    assert callable(connect)
    conn: sqlite3.Connection = connect()
    conn.execute("PRAGMA query_only = ON")
    conn.execute("BEGIN")
    return conn


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("COMMIT")
    finally:
        conn.close()
