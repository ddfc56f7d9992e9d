"""Exports' state reads on PostgreSQL: a server-side cursor on raw asyncpg, in one read-only
REPEATABLE READ transaction, prefetching a chunk at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Final

from subgroups.domain.exports import StateLine
from subgroups.storage.exports import CHUNK, STATES, STATES_AS_OF, SqlExportReader, state_name
from subgroups.storage.postgres_database import PostgresDatabase

_STATES: Final = STATES.format("$1", "$2::text")
_STATES_AS_OF: Final = STATES_AS_OF.format("$1", "$2::text", "$3")


class PostgresExportReader(SqlExportReader):
    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(db)
        self._pg = db

    def states(self, workspace_id: int, group_id: str | None) -> AsyncIterator[StateLine]:
        return self._lines(_STATES, (workspace_id, group_id))

    def states_as_of(
        self, workspace_id: int, group_id: str | None, at: datetime
    ) -> AsyncIterator[StateLine]:
        return self._lines(_STATES_AS_OF, (workspace_id, group_id, at))

    async def _lines(self, sql: str, parameters: Sequence[object]) -> AsyncIterator[StateLine]:
        async with (
            self._pg.raw() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            async for x, e, ph, gid, state, at in conn.cursor(sql, *parameters, prefetch=CHUNK):
                yield StateLine(
                    x,
                    e,
                    ph,
                    gid,
                    state_name(state),
                    at.astimezone(UTC).isoformat(timespec="microseconds"),
                )
