"""The change feed: the records a reader may see, so that one looping on ids never skips one.

A reader that has seen every record up to id N asks for ids above N. That is only safe if no
record with an id up to N can still appear later, which depends on the backend:

- SQLite: ids are taken inside the write transaction, and write transactions (of every process)
  run one at a time and commit in the order they began. So the committed records are always every
  id up to the largest: every record a read snapshot shows may be handed out.

- PostgreSQL: ids come from a sequence, taken before commit and by many transactions at once, so
  id 99 can commit after id 100 has been read. The feed hands out records only up to a horizon:
  the sequence's value L, once every transaction that could hold an id up to L is over. To know
  which those are, the horizon check reads L and then takes a transaction id Y of its own
  (`pg_current_xact_id()`, in a transaction that commits without waiting for the disk): a
  transaction that took an id up to L had its transaction id before L was read, so below Y; once
  the oldest transaction still running (`pg_snapshot_xmin`) is Y or later, each of those has
  committed or rolled back, and every record up to L that will ever exist is visible. (The
  snapshot's own upper bound, `pg_snapshot_xmax`, would not do: a transaction whose id is above
  every finished one is running without being listed.)
  `pg_snapshot_xmin` spans the whole server, every database on it: a long transaction in another
  application's database would hold the feed back. So when it is not yet past Y, the check looks
  at the transactions of this database alone (`pg_stat_activity.backend_xid`, 32 bits, compared
  with Y's low 32 bits the way PostgreSQL compares them, modulo 2^32): none older than Y still
  running proves the same. (Prepared two-phase transactions have no session to be listed by;
  nothing here prepares one.)
  Two things make the first step true: the write paths take a record's id after their first
  write of the transaction (the state upsert, which gives the transaction its id), and the
  sequence hands out values one at a time (no per-session cache).
  A request waits briefly for the transactions in flight to end (they are single statements on
  the hot path); if they do not end in time, the horizon proven by an earlier request stands. A
  long transaction anywhere on the server (an open `psql` session that wrote, say) holds the feed
  back until it ends. Each check uses up one transaction id, like a small write.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

from subgroups.domain.models import StateChange
from subgroups.storage.change_records import read_changes

if TYPE_CHECKING:  # each backend's driver is loaded only where that backend is used
    import asyncpg

    from subgroups.storage.postgres_database import PostgresDatabase
    from subgroups.storage.sqlite_database import SqliteDatabase

HORIZON_WAIT_SECONDS: Final = 0.1
_POLL_SECONDS: Final = 0.002

_LAST_ID: Final = "SELECT pg_sequence_last_value(pg_get_serial_sequence('state_changes', 'id'))"
_OWN_XID: Final = "SELECT pg_current_xact_id()::text::bigint"
_OLDEST_RUNNING: Final = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
# Whether a transaction of this database that started before xid $1 (its low 32 bits) runs.
_OLDER_HERE: Final = (
    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
    " AND backend_xid IS NOT NULL"
    " AND ((backend_xid::text::bigint - $1) % 4294967296 + 4294967296) % 4294967296"
    " >= 2147483648)"
)


class SqliteChangeFeed:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def changes(self, workspace_id: int, *, after: int, limit: int) -> list[StateChange]:
        return await read_changes(self._db, workspace_id, after=after, limit=limit, through=None)


class PostgresChangeFeed:
    def __init__(self, db: PostgresDatabase, *, wait_seconds: float = HORIZON_WAIT_SECONDS) -> None:
        self._db = db
        self._wait_seconds = wait_seconds
        # The highest horizon this process has proven; horizons only move up.
        self._proven = 0

    async def changes(self, workspace_id: int, *, after: int, limit: int) -> list[StateChange]:
        through = await self.horizon()
        if through <= after:
            return []
        return await read_changes(self._db, workspace_id, after=after, limit=limit, through=through)

    async def horizon(self) -> int:
        """An id up to which every record that will ever exist is committed now."""
        async with self._db.raw() as conn:
            async with conn.transaction():
                # Nothing is written: the commit need not wait for the disk.
                await conn.execute("SET LOCAL synchronous_commit TO off")
                last_id: int | None = await conn.fetchval(_LAST_ID)  # None: no id taken yet
                own_xid: int = await conn.fetchval(_OWN_XID)
            if await self._all_before_ended(conn, own_xid):
                self._proven = max(self._proven, last_id or 0)
        return self._proven

    async def _all_before_ended(self, conn: asyncpg.Connection, xid: int) -> bool:
        deadline = time.monotonic() + self._wait_seconds
        while True:
            oldest_running: int = await conn.fetchval(_OLDEST_RUNNING)
            if oldest_running > xid:
                return True
            if not await conn.fetchval(_OLDER_HERE, xid & 0xFFFFFFFF):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_POLL_SECONDS)
