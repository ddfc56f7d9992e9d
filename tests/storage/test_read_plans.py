"""status/get finds profiles first and each state by primary key, whatever the statistics say.

A group filled since the planner's statistics were last gathered looks empty to it. Written as a
join, the lookup then walked every state of the group instead of the 50 it needed; on a large
table, where autovacuum waits millions of rows before it analyses again, that lasted for ever.
The search must use the whole key, too: by profile alone it reads the profile's every state.
"""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from subgroups.container import Services
from subgroups.domain.models import Actor, Group, Source, Workspace
from subgroups.domain.reads import IdentifierKind, Identifiers
from subgroups.domain.subscriptions import GroupRequest
from subgroups.storage import status_lookup, user_lookup
from subgroups.storage.postgres_database import PostgresDatabase
from subgroups.storage.sqlite_database import SqliteDatabase
from tests.factories import make_group, make_workspace

API = Actor(Source.REST_API, api_key_id=None, request_id="r1", client_ip="192.0.2.1")
MEMBERS = 1_000


async def test_the_state_lookup_uses_the_primary_key_of_a_group_the_statistics_think_empty(
    services: Services,
) -> None:
    workspace, _older, group, ids = await _members_of_one_of_two_groups(services)
    db = services.db
    # Statistics taken now describe a table of states, none of them in `group`.
    await db.write(lambda conn: conn.exec_driver_sql("ANALYZE"))
    await _subscribe(services, workspace.id, group.id, ids)
    asked = ids[:50]

    if isinstance(db, PostgresDatabase):
        async with db.raw() as pg:
            explained = await pg.fetch(
                "EXPLAIN " + status_lookup.POSTGRES["external_id"], workspace.id, group.pk, asked
            )
        plan = "\n".join(row[0] for row in explained)
        primary_key = "pk_subscription_states"
        # The line after the primary key's scan holds its search condition.
        lines = plan.splitlines()
        search = next(
            (lines[i + 1] for i, line in enumerate(lines[:-1]) if primary_key in line), ""
        )
        both_columns = "Index Cond" in search and "group_pk" in search
    else:

        def explain(conn: sqlite3.Connection) -> list[tuple[int, int, int, str]]:
            params = {"workspace": workspace.id, "group": group.pk, "values": orjson.dumps(asked)}
            return conn.execute(
                "EXPLAIN QUERY PLAN " + status_lookup.SQLITE["external_id"], params
            ).fetchall()

        assert isinstance(db, SqliteDatabase)
        plan = "\n".join(row[3] for row in await db.readers.run(explain))
        primary_key = "sqlite_autoindex_subscription_states_1"
        both_columns = f"{primary_key} (profile_id=? AND group_pk=?)" in plan
    found = await services.status.statuses(
        workspace_id=workspace.id,
        group_id=group.id,
        identifiers=Identifiers(external_id=asked, email=None, phone=None),
    )

    assert primary_key in plan, plan
    # The whole key: not every state of the profile, filtered down to the group's.
    assert both_columns, plan
    assert "ix_subscription_states_group_pk_subscribed" not in plan, plan
    assert found == dict.fromkeys(asked, "Subscribed")


async def _members_of_one_of_two_groups(
    services: Services,
) -> tuple[Workspace, Group, Group, list[str]]:
    """A workspace, two groups, and MEMBERS external ids subscribed to the first."""
    workspace = await make_workspace(services)
    first, second = (
        await make_group(services, workspace.id),
        await make_group(services, workspace.id),
    )
    ids = [f"member-{n}" for n in range(MEMBERS)]
    await _subscribe(services, workspace.id, first.id, ids)
    return workspace, first, second, ids


async def _subscribe(services: Services, workspace_id: int, group_id: str, ids: list[str]) -> None:
    for start in range(0, len(ids), 50):
        request = GroupRequest(group_id, "subscribed", external_id=ids[start : start + 50])
        await services.subscriptions.set_state(
            workspace_id=workspace_id, request=request, actor=API
        )


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("kind", status_lookup.KINDS)
async def test_the_profile_lookup_reads_ids_from_the_index_alone(
    services: Services, kind: IdentifierKind
) -> None:
    """status/get needs only a profile's id: on a table whose pages are all visible (vacuumed), it
    is read from the lookup index, without one visit to the table per id. (SQLite's indexes hold
    the rowid, which is the id, by construction.)"""
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    ids = [f"member-{n}" for n in range(MEMBERS)]
    await _subscribe(services, workspace.id, group.id, ids)
    values = {"external_id": ids[:3], "email": ["a@example.com"], "phone": ["+14155552671"]}
    assert isinstance(services.db, PostgresDatabase)
    async with services.db.raw() as pg:
        await pg.execute("VACUUM (ANALYZE) profiles")  # sets the visibility map, as autovacuum does
        explained = await pg.fetch(
            "EXPLAIN (ANALYZE, COSTS OFF) " + status_lookup.POSTGRES[kind],
            workspace.id,
            group.pk,
            values[kind],
        )
    plan = "\n".join(row[0] for row in explained)

    assert f"Index Only Scan using {_LOOKUP_INDEX[kind]} on profiles" in plan, plan
    assert "Heap Fetches: 0" in plan, plan


_LOOKUP_INDEX: dict[IdentifierKind, str] = {
    "external_id": "uq_profiles_workspace_id_external_id",
    "email": "ix_profiles_workspace_id_email",
    "phone": "ix_profiles_workspace_id_phone",
}


async def test_user_status_finds_profiles_by_index_and_states_by_primary_key(
    services: Services,
) -> None:
    """user/status's one statement (`user_lookup.py`) reads what a page needs and no more: the
    profiles by their lookup index, each one's states by the primary key, each group by its own."""
    workspace, _first, second, ids = await _members_of_one_of_two_groups(services)
    await _subscribe(services, workspace.id, second.id, ids[:10])
    db = services.db
    await db.write(lambda conn: conn.exec_driver_sql("ANALYZE"))
    asked = ids[5:15]

    if isinstance(db, PostgresDatabase):
        async with db.raw() as pg:
            explained = await pg.fetch(
                "EXPLAIN " + user_lookup.POSTGRES["external_id"], workspace.id, asked, 100, 0
            )
        plan = "\n".join(row[0] for row in explained)
        # (On a table this small, reading all of `profiles` may well be cheapest.)
        assert "Seq Scan on subscription_states" not in plan, plan
        assert "pk_subscription_states" in plan, plan
    else:

        def explain(conn: sqlite3.Connection) -> list[tuple[int, int, int, str]]:
            params = {"workspace": workspace.id, "values": orjson.dumps(asked).decode()}
            return conn.execute(
                "EXPLAIN QUERY PLAN " + user_lookup.SQLITE["external_id"],
                {**params, "limit": 100, "offset": 0},
            ).fetchall()

        assert isinstance(db, SqliteDatabase)
        plan = "\n".join(row[3] for row in await db.readers.run(explain))
        scans = [line for line in plan.splitlines() if line.startswith("SCAN")]
        # Only what the statement made itself is walked whole: the 10 values, the profiles they
        # found, the page of those, and the one-row FROM.
        walked = {"json_each", "matching", "page", "one", "CONSTANT"}
        assert all(line.split()[1] in walked for line in scans), plan
        assert "sqlite_autoindex_subscription_states_1 (profile_id=?)" in plan, plan
    page = await services.status.user_statuses(
        workspace_id=workspace.id, identifiers=Identifiers(external_id=asked)
    )

    assert page.total_count == len(asked)
    # members 0-9 are in both groups, the others in the first only
    assert {u.external_id: len(u.groups) for u in page.users} == {
        member: 2 if n < 10 else 1 for n, member in enumerate(ids) if member in asked
    }
