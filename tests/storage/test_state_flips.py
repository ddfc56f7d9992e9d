"""A flip of a state touches no index, so that on PostgreSQL it is a heap-only (HOT) update.

Sets flip states all day: unsubscribe links, STOP replies, nightly syncs. When no index holds a
column the flip changes, PostgreSQL rewrites the row on its own page and leaves every index alone;
with one more index on `subscribed`, every flip would also add an entry to each index, and on a
large table that is most of the pages a set writes (BENCHMARKS.md). So the table has its primary
key and nothing else, and its pages keep room for the new row versions.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from subgroups.container import Services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.storage.postgres_database import PostgresDatabase
from tests.factories import make_group, make_workspace

API = Actor(Source.REST_API, api_key_id=None, request_id="r1", client_ip="192.0.2.1")


async def test_states_are_indexed_by_their_primary_key_alone(services: Services) -> None:
    async with services.db.snapshot() as conn:
        indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("subscription_states"))
        primary = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("subscription_states"))
    assert indexes == []
    assert primary["constrained_columns"] == ["profile_id", "group_pk"]


# SQLite has no such thing: a row lives in its table's b-tree, found by rowid.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_flip_is_a_heap_only_update_on_postgresql(services: Services) -> None:
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    ids = [f"u{n}" for n in range(20)]
    request = GroupRequest(group.id, "subscribed", external_id=ids)
    await services.subscriptions.set_state(workspace_id=workspace.id, request=request, actor=API)

    assert isinstance(services.db, PostgresDatabase)
    async with services.db.raw() as pg, pg.transaction():
        fillfactor = await pg.fetchval(
            "SELECT reloptions FROM pg_class WHERE relname = 'subscription_states'"
        )
        # The columns the set path's upsert writes on a flip (storage/postgres_subscriptions.py).
        await pg.execute(
            "UPDATE subscription_states SET subscribed = NOT subscribed, updated_at = now()"
            " WHERE group_pk = $1",
            group.pk,
        )
        # This transaction's own counts, up to date at once (the server-wide ones lag).
        updated, heap_only = await pg.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
            " WHERE relname = 'subscription_states'"
        )
    assert fillfactor == ["fillfactor=80"]
    assert (updated, heap_only) == (20, 20)
