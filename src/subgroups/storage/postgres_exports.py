"""Exports' state reads on PostgreSQL: a server-side cursor on raw asyncpg, in one read-only
REPEATABLE READ transaction, fetched a chunk at a time, the next while the last is written out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Final

from subgroups.domain.exports import StateCells
from subgroups.storage.exports import CHUNK, SqlExportReader, state_queries
from subgroups.storage.postgres_database import PostgresDatabase

_ISO: Final = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
_STATES, _STATES_AS_OF = state_queries(_ISO, "$1", "$2::text", "$3")


class PostgresExportReader(SqlExportReader):
    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(db)
        self._pg = db

    def states(self, workspace_id: int, group_id: str | None) -> AsyncIterator[list[StateCells]]:
        return self._chunks(_STATES, (workspace_id, group_id))

    def states_as_of(
        self, workspace_id: int, group_id: str | None, at: datetime
    ) -> AsyncIterator[list[StateCells]]:
        return self._chunks(_STATES_AS_OF, (workspace_id, group_id, at))

    async def _chunks(
        self, sql: str, parameters: Sequence[object]
    ) -> AsyncIterator[list[StateCells]]:
        async with (
            self._pg.raw() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            cursor = await conn.cursor(sql, *parameters)
            # The server makes the next chunk while this one is turned into text.
            coming = asyncio.ensure_future(cursor.fetch(CHUNK))
            try:
                while records := await coming:
                    coming = asyncio.ensure_future(cursor.fetch(CHUNK))
                    await asyncio.sleep(0)  # the request goes out before this chunk
                    yield [tuple(r) for r in records]
            finally:
                # Closed early: the chunk being read is let finish (one chunk, milliseconds)
                # before the connection goes, and what it raised, if anything, is dropped.
                await asyncio.wait([coming])
                if not coming.cancelled():
                    coming.exception()
