"""The change feed: a reader looping on the last id it saw gets every record exactly once, even
when transactions commit out of id order (contract §9, pull)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from subgroups.container import Services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.storage.change_feed import PostgresChangeFeed, SqliteChangeFeed
from subgroups.storage.change_records import read_changes
from subgroups.storage.postgres_database import PostgresDatabase
from subgroups.storage.sqlite_database import SqliteDatabase
from tests.conftest import POSTGRES_ADMIN_URL
from tests.factories import make_group, make_workspace

ACTOR = Actor(Source.CLI)
Feed = SqliteChangeFeed | PostgresChangeFeed


def feed_of(services: Services) -> Feed:
    if isinstance(services.db, PostgresDatabase):
        return PostgresChangeFeed(services.db, wait_seconds=0.05)
    assert isinstance(services.db, SqliteDatabase)
    return SqliteChangeFeed(services.db)


async def subscribe(services: Services, workspace_id: int, group_id: str, *ids: str) -> None:
    request = GroupRequest(group_id, "subscribed", external_id=list(ids))
    await services.subscriptions.set_state(workspace_id=workspace_id, request=request, actor=ACTOR)


async def test_pages_follow_ids_from_after(services: Services) -> None:
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    await subscribe(services, workspace.id, group.id, "a", "b", "c")
    feed = feed_of(services)

    first = await feed.changes(workspace.id, after=0, limit=2)
    rest = await feed.changes(workspace.id, after=first[-1].id, limit=2)

    assert [c.external_id for c in first + rest] == ["a", "b", "c"]
    assert [c.id for c in first + rest] == sorted(c.id for c in first + rest)
    assert await feed.changes(workspace.id, after=rest[-1].id, limit=2) == []


async def test_another_workspaces_records_are_not_in_the_feed(services: Services) -> None:
    mine, theirs = await make_workspace(services), await make_workspace(services)
    await subscribe(services, theirs.id, (await make_group(services, theirs.id)).id, "x")

    assert await feed_of(services).changes(mine.id, after=0, limit=100) == []


async def read_while(
    feed: Feed, workspace_id: int, writing: asyncio.Future[list[None]], limit: int
) -> list[int]:
    """The ids a reader looping on the last one it saw gets while `writing` runs, and after."""
    seen: list[int] = []
    while True:
        done = writing.done()
        page = await feed.changes(workspace_id, after=seen[-1] if seen else 0, limit=limit)
        seen += [c.id for c in page]
        if done and not page:
            break
        await asyncio.sleep(0.002)
    await writing
    return seen


@asynccontextmanager
async def open_transaction(db: PostgresDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A transaction of its own that has begun writing (it holds a transaction id)."""
    async with db.raw() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.fetchval("SELECT pg_current_xact_id()")
            yield conn
        except BaseException:
            await transaction.rollback()
            raise
        else:
            await transaction.commit()


async def insert_record(conn: asyncpg.Connection, workspace_id: int, external_id: str) -> int:
    """A state-change record, as the write path appends one (after its first write)."""
    record_id: int = await conn.fetchval(
        "INSERT INTO state_changes (workspace_id, profile_id, external_id,"
        " subscription_group_id, channel, new_state, occurred_at, source)"
        " VALUES ($1, 0, $2, 'g', 'email', 'subscribed', now(), 'CLI') RETURNING id",
        workspace_id,
        external_id,
    )
    return record_id


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_record_committed_before_a_smaller_id_waits_for_it(services: Services) -> None:
    assert isinstance(services.db, PostgresDatabase)
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    feed = feed_of(services)

    async with open_transaction(services.db) as slow:
        earlier = await insert_record(slow, workspace.id, "slow")
        await subscribe(services, workspace.id, group.id, "fast")  # commits a larger id first
        committed = await read_changes(services.db, workspace.id, after=0, limit=None, through=None)
        held_back = await feed.changes(workspace.id, after=0, limit=100)

    # A reader without the horizon would have moved past `earlier` here, and never seen it.
    assert [c.external_id for c in committed] == ["fast"]
    assert committed[0].id > earlier
    assert held_back == []
    after_commit = await feed.changes(workspace.id, after=0, limit=100)
    assert [(c.id, c.external_id) for c in after_commit] == [
        (earlier, "slow"),
        (committed[0].id, "fast"),
    ]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_long_transaction_in_another_database_does_not_hold_the_feed_back(
    services: Services,
) -> None:
    """Only transactions of this database can hold an id of its records; another application's
    long transaction on the same server (it holds back the server-wide xmin) does not count."""
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    feed = feed_of(services)
    other = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.fetchval("SELECT pg_current_xact_id()")  # an id older than what follows
        await subscribe(services, workspace.id, group.id, "meanwhile")
        seen = await feed.changes(workspace.id, after=0, limit=100)
        await transaction.rollback()
    finally:
        await other.close()
    assert [c.external_id for c in seen] == ["meanwhile"]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_looping_reader_sees_every_record_once_under_out_of_order_commits(
    services: Services,
) -> None:
    assert isinstance(services.db, PostgresDatabase)
    db = services.db
    workspace = await make_workspace(services)
    feed = feed_of(services)
    rng = random.Random(7)  # noqa: S311 - timing jitter, not a secret
    kept: list[int] = []

    async def writer(n: int) -> None:
        for k in range(8):
            try:
                async with open_transaction(db) as conn:
                    record_id = await insert_record(conn, workspace.id, f"w{n}-{k}")
                    await asyncio.sleep(rng.uniform(0, 0.03))  # commits land out of id order
                    if rng.random() < 0.2:
                        raise RuntimeError("rolled back")
                kept.append(record_id)
            except RuntimeError:
                pass

    seen = await read_while(feed, workspace.id, asyncio.gather(*(writer(n) for n in range(4))), 3)

    assert seen == sorted(kept)


async def test_a_looping_reader_sees_every_record_once_under_concurrent_sets(
    services: Services,
) -> None:
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    feed = feed_of(services)

    async def client(n: int) -> None:
        for k in range(10):
            await subscribe(services, workspace.id, group.id, f"c{n}-{k}", f"c{n}-{k}-b")

    seen = await read_while(feed, workspace.id, asyncio.gather(*(client(n) for n in range(4))), 7)

    every = await read_changes(services.db, workspace.id, after=0, limit=None, through=None)
    assert len(every) == 80
    assert seen == [c.id for c in every]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_the_record_ids_are_handed_out_one_at_a_time(services: Services) -> None:
    """A sequence cache would let a session use an id below the horizon after it was proven."""
    assert isinstance(services.db, PostgresDatabase)
    async with services.db.raw() as conn:
        cache = await conn.fetchval(
            "SELECT cache_size FROM pg_sequences"
            " WHERE schemaname || '.' || sequencename"
            " = pg_get_serial_sequence('state_changes', 'id')"
        )
    assert cache == 1
