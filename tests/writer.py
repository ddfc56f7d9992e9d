"""Holding a database's write lock from a test, to show what waits for it and what does not."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Connection, text

from subgroups.storage.engine import Database
from subgroups.storage.postgres_database import PostgresDatabase


@asynccontextmanager
async def writes_held(db: Database) -> AsyncIterator[None]:
    """While this block runs, a write transaction is open and holds every row of `profiles`.

    On SQLite that transaction occupies the one writer thread, inside BEGIN IMMEDIATE: any write
    of the process queues behind it. On PostgreSQL it holds the profiles' row locks.
    """
    if isinstance(db, PostgresDatabase):
        async with db.raw() as pg, pg.transaction():
            await pg.execute("SELECT id FROM profiles FOR UPDATE")
            yield
        return
    started, release = threading.Event(), threading.Event()

    def hold(conn: Connection) -> None:
        conn.execute(text("SELECT count(*) FROM profiles"))
        started.set()
        release.wait(timeout=30)

    holder = asyncio.ensure_future(db.write(hold))
    try:
        await asyncio.to_thread(started.wait, 30)
        yield
    finally:
        release.set()
        await holder
