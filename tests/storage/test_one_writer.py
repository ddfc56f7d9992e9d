"""Every SQLite write goes through the one writer: nothing writes beside it.

Two ways to see it. Within the process: while the writer thread is busy with one transaction,
every other write waits for it, whichever store makes it (a key's last use, a workspace, a group,
a dashboard session). Across processes: the writers take turns on the lock file beside the
database, so a write waits while another process holds that lock, instead of meeting SQLite's
busy handler.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from subgroups.container import Services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.storage.keys import SqlKeyStore
from subgroups.storage.sqlite_database import SqliteDatabase
from tests.factories import make_group, make_workspace
from tests.writer import writes_held

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

Write = Callable[[Services, int], Awaitable[object]]
LATER = datetime.now(UTC) + timedelta(days=1)


async def touch_a_key(services: Services, workspace_id: int) -> object:
    """The write the key service makes in the background of a request that used the key."""
    key = await services.keys.create(workspace_id=workspace_id)
    await SqlKeyStore(services.db).touch(key.key.id, at=LATER)
    return key.key.id


async def create_a_workspace(services: Services, _workspace_id: int) -> object:
    return await services.workspaces.create(name="another")


async def create_a_group(services: Services, workspace_id: int) -> object:
    return await services.groups.create(workspace_id=workspace_id, name="Later", channel="email")


async def set_a_state(services: Services, workspace_id: int) -> object:
    group = await make_group(services, workspace_id)
    request = GroupRequest(group.id, "subscribed", external_id="u1")
    return await services.subscriptions.set_state(
        workspace_id=workspace_id, request=request, actor=Actor(Source.CLI)
    )


WRITES = [touch_a_key, create_a_workspace, create_a_group, set_a_state]


@pytest.mark.parametrize("write", WRITES)
async def test_a_write_waits_while_the_writer_is_busy(services: Services, write: Write) -> None:
    workspace = await make_workspace(services)
    async with writes_held(services.db):
        pending = asyncio.ensure_future(write(services, workspace.id))
        await asyncio.sleep(0.3)
        assert not pending.done()
    await asyncio.wait_for(pending, timeout=10)


@contextmanager
def lock_file_held(db: SqliteDatabase) -> Iterator[None]:
    """The writer lock, as another process's writer holds it (flock is per open file)."""
    path = f"{db.url.removeprefix('sqlite:///')}-writer.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@pytest.mark.parametrize("write", WRITES)
async def test_a_write_waits_for_another_process_holding_the_lock(
    services: Services, write: Write
) -> None:
    assert isinstance(services.db, SqliteDatabase)
    workspace = await make_workspace(services)
    with lock_file_held(services.db):
        pending = asyncio.ensure_future(write(services, workspace.id))
        await asyncio.sleep(0.3)
        assert not pending.done()
    await asyncio.wait_for(pending, timeout=10)


async def test_a_key_touch_is_written_once_the_writer_is_free(services: Services) -> None:
    assert isinstance(services.db, SqliteDatabase)
    workspace = await make_workspace(services)
    key = await services.keys.create(workspace_id=workspace.id)
    path = services.db.url.removeprefix("sqlite:///")

    def last_used() -> object:
        with sqlite3.connect(path) as conn:
            row = conn.execute("SELECT last_used_at FROM api_keys WHERE id = ?", (key.key.id,))
            return row.fetchone()[0]

    async with writes_held(services.db):
        pending = asyncio.ensure_future(SqlKeyStore(services.db).touch(key.key.id, at=LATER))
        await asyncio.sleep(0.3)
        assert last_used() is None
    await asyncio.wait_for(pending, timeout=10)
    assert last_used() is not None
