"""Exports' state reads on SQLite: plain `sqlite3` on a connection of their own, in one read
transaction (a WAL snapshot: the writer never waits for it), fetched in chunks in a thread."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Final

from subgroups.domain.exports import StateLine
from subgroups.storage.exports import CHUNK, STATES, STATES_AS_OF, SqlExportReader, state_name
from subgroups.storage.sqlite_database import SqliteDatabase
from subgroups.storage.sqlite_subscriptions import sqlite_time

_STATES: Final = STATES.format("?1", "?2")
_STATES_AS_OF: Final = STATES_AS_OF.format("?1", "?2", "?3")


class SqliteExportReader(SqlExportReader):
    def __init__(self, db: SqliteDatabase) -> None:
        super().__init__(db)
        self._connect = db.connect

    def states(self, workspace_id: int, group_id: str | None) -> AsyncIterator[StateLine]:
        return self._lines(_STATES, (workspace_id, group_id))

    def states_as_of(
        self, workspace_id: int, group_id: str | None, at: datetime
    ) -> AsyncIterator[StateLine]:
        return self._lines(_STATES_AS_OF, (workspace_id, group_id, sqlite_time(at)))

    async def _lines(self, sql: str, parameters: Sequence[object]) -> AsyncIterator[StateLine]:
        conn = await asyncio.to_thread(_open, self._connect)
        try:
            cursor = await asyncio.to_thread(conn.execute, sql, parameters)
            while rows := await asyncio.to_thread(cursor.fetchmany, CHUNK):
                for x, e, ph, gid, state, at in rows:
                    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC (see tables.Timestamp).
                    yield StateLine(x, e, ph, gid, state_name(state), f"{at[:10]}T{at[11:]}+00:00")
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
