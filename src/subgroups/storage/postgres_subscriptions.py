"""The set endpoints' write path on PostgreSQL: one statement per group object, on raw asyncpg.

The rules come decided in each `Assignment`; this module only executes them.

`statement()` builds, for one group object, a single statement that checks the group is still
active, finds the profiles, creates the missing ones, upserts the states that really change and
appends their change records. asyncpg prepares it once per connection. A v1 request naming only
external ids is that one statement in autocommit: one round trip.

Concurrency, with no lost update and no deadlock:
- The state upsert takes its row locks in profile-id order and re-checks `subscribed` on the
  newest row version (ON CONFLICT DO UPDATE … WHERE), so of two requests setting the same state
  only the first records a change, whichever identifiers selected the profile.
- A row the upsert inserted has `xmax = 0`; an updated one carries our lock in `xmax`. That tells a
  change from unknown apart from a flip without reading the old row first (states are boolean).
- Missing external ids are inserted in sorted order with ON CONFLICT DO UPDATE (a no-op write) so
  that a profile a concurrent request created after our snapshot is returned rather than skipped.
  The no-op sets `created_at`, not a column of a unique key: setting a key column would lock the
  row FOR UPDATE, which conflicts with the FOR KEY SHARE locks that foreign-key checks of other
  requests hold on it, and two such requests deadlock.
- Profiles found by email/phone have no unique key: the identifiers are locked first (advisory,
  sorted; see postgres_database.lock_ids) so two requests cannot both create the same new contact.
- Several group objects in one transaction (v2) take all their advisory locks first, create all
  missing external ids in one sorted statement, then write group by group in group order: the
  locks of any two transactions are then taken in one global order.
- Each statement takes FOR SHARE on its group row: archiving (an UPDATE) waits for it, and the
  statement writes nothing once the group is archived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Final

import asyncpg

from subgroups.domain.models import Actor, State
from subgroups.domain.subscriptions import (
    Assignment,
    ContactColumn,
    Selector,
    contact_conflict_note,
)
from subgroups.errors import GroupArchived
from subgroups.storage.change_records import COLUMNS, PER_REQUEST, request_values
from subgroups.storage.postgres_database import PostgresDatabase, lock_ids
from subgroups.storage.subscriptions import SubscriptionReads

_STATE_TAIL: Final = """
changed AS (
    INSERT INTO subscription_states AS s (profile_id, group_pk, subscribed, updated_at)
    SELECT t.id, $2, $5, $6 FROM targets AS t WHERE EXISTS (SELECT FROM g) ORDER BY t.id
    ON CONFLICT (profile_id, group_pk) DO UPDATE
        SET subscribed = EXCLUDED.subscribed, updated_at = EXCLUDED.updated_at
        WHERE s.subscribed IS DISTINCT FROM EXCLUDED.subscribed
    RETURNING s.profile_id, s.xmax = 0 AS inserted
), recorded AS (
    INSERT INTO state_changes ({columns})
    SELECT {values}
    FROM changed AS c JOIN targets AS t ON t.id = c.profile_id
    ORDER BY t.id
    RETURNING 1
)
SELECT EXISTS (SELECT FROM g) AS active, {current} AS current_contact
"""
# The record's values shared by the request are parameters from $8 on, in PER_REQUEST's order.
FIRST_SHARED_PARAMETER: Final = 8

_GROUP: Final = """
WITH g AS (
    SELECT pk FROM subscription_groups WHERE pk = $2 AND archived_at IS NULL FOR SHARE
),"""

# $1 workspace, $2 group pk, $3 identifiers, $4 contact to record (single case) or NULL,
# $5 subscribed, $6 at, $7 old state when flipped, then the record's shared values (see above).
_BY_EXTERNAL_ID: Final = """
found AS (
    SELECT id, external_id, email, phone FROM profiles
    WHERE workspace_id = $1 AND external_id = ANY($3::text[])
), created AS (
    INSERT INTO profiles (workspace_id, external_id, {column}, created_at)
    SELECT $1, x, $4::text, $6 FROM unnest($3::text[]) AS x
    WHERE EXISTS (SELECT FROM g) AND x NOT IN (SELECT external_id FROM found)
    ORDER BY x
    ON CONFLICT (workspace_id, external_id) DO UPDATE SET created_at = profiles.created_at
    RETURNING id, external_id, email, phone
), contact AS (
    UPDATE profiles SET {column} = $4::text
    WHERE $4::text IS NOT NULL AND EXISTS (SELECT FROM g) AND {column} IS NULL
        AND id IN (SELECT id FROM found)
    RETURNING id
), targets AS (
    SELECT id, external_id, email, phone FROM found
    UNION ALL SELECT id, external_id, email, phone FROM created
),"""

# $4 is always NULL here; it is named so that both statements take the same parameters.
_BY_CONTACT: Final = """
found AS (
    SELECT id, external_id, email, phone FROM profiles
    WHERE workspace_id = $1 AND {column} = ANY($3::text[]) AND $4::text IS NULL
), created AS (
    INSERT INTO profiles (workspace_id, {column}, created_at)
    SELECT $1, c, $6 FROM unnest($3::text[]) AS c
    WHERE EXISTS (SELECT FROM g) AND c NOT IN (SELECT {column} FROM found)
    ORDER BY c
    RETURNING id, external_id, email, phone
), targets AS (
    SELECT id, external_id, email, phone FROM found
    UNION ALL SELECT id, external_id, email, phone FROM created
),"""

# The dashboard's way: exactly these profiles ($3 holds their ids), none created.
_BY_PROFILE_ID: Final = """
found AS (
    SELECT id, external_id, email, phone FROM profiles
    WHERE workspace_id = $1 AND id = ANY($3::bigint[]) AND $4::text IS NULL
), targets AS (
    SELECT id, external_id, email, phone FROM found
),"""

_CREATE_EXTERNAL_IDS: Final = """
INSERT INTO profiles (workspace_id, external_id, created_at)
SELECT $1, x, $3 FROM unnest($2::text[]) AS x ORDER BY x
ON CONFLICT (workspace_id, external_id) DO NOTHING
"""


@cache
def statement(selector: Selector, column: ContactColumn) -> str:
    by_external_id = selector == "external_id"
    recorded = f"COALESCE(t.{column}, (SELECT $4::text FROM contact WHERE contact.id = t.id))"
    per_profile = {
        "profile_id": "t.id",
        "external_id": "t.external_id",
        "email": "t.email",
        "phone": "t.phone",
        "old_state": "CASE WHEN c.inserted THEN NULL ELSE $7 END",
    }
    if by_external_id:
        per_profile[column] = recorded
    values = [
        per_profile.get(c) or f"${FIRST_SHARED_PARAMETER + PER_REQUEST.index(c)}" for c in COLUMNS
    ]
    current = f"(SELECT {column} FROM found LIMIT 1)" if by_external_id else "NULL::text"
    body = {"external_id": _BY_EXTERNAL_ID, "contact": _BY_CONTACT, "profile_id": _BY_PROFILE_ID}
    return (
        _GROUP
        + body[selector].format(column=column)
        + _STATE_TAIL.format(columns=", ".join(COLUMNS), values=", ".join(values), current=current)
    )


class PostgresSubscriptionStore(SubscriptionReads):
    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(db)
        self._pg = db

    async def apply(
        self,
        *,
        workspace_id: int,
        assignments: Sequence[Assignment],
        actor: Actor,
        at: datetime,
    ) -> list[str]:
        async with self._pg.raw() as conn:
            if len(assignments) == 1 and not assignments[0].creates_by_contact:
                # One statement is its own transaction: no BEGIN/COMMIT round trips.
                return await _write(conn, workspace_id, assignments[0], actor, at)
            async with conn.transaction():
                await _lock_identifiers(conn, workspace_id, assignments)
                if len(assignments) > 1:
                    await _create_external_ids(conn, workspace_id, assignments, at)
                notes: list[list[str]] = [[] for _ in assignments]
                for i in sorted(range(len(assignments)), key=lambda i: assignments[i].group.pk):
                    notes[i] = await _write(conn, workspace_id, assignments[i], actor, at)
                return [note for group_notes in notes for note in group_notes]


async def _lock_identifiers(
    conn: asyncpg.Connection, workspace_id: int, assignments: Sequence[Assignment]
) -> None:
    keys = [
        f"{workspace_id}:{a.group.channel}:{c}"
        for a in assignments
        if a.creates_by_contact
        for c in a.contacts
    ]
    if len(assignments) > 1:
        keys += [f"{workspace_id}:x:{x}" for a in assignments for x in a.external_ids]
    if keys:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", lock_ids(keys)
        )


async def _create_external_ids(
    conn: asyncpg.Connection, workspace_id: int, assignments: Sequence[Assignment], at: datetime
) -> None:
    external_ids = sorted({x for a in assignments for x in a.external_ids})
    if external_ids:
        await conn.execute(_CREATE_EXTERNAL_IDS, workspace_id, external_ids, at)


async def _write(
    conn: asyncpg.Connection, workspace_id: int, a: Assignment, actor: Actor, at: datetime
) -> list[str]:
    row = await conn.fetchrow(
        statement(a.selector, a.contact_column),
        workspace_id,
        a.group.pk,
        list(a.selected_by),
        a.contact_to_record,
        a.subscribed,
        at,
        State.UNSUBSCRIBED.value if a.subscribed else State.SUBSCRIBED.value,
        *request_values(workspace_id, a, actor, at),
    )
    assert row is not None  # the statement always returns one row
    if not row["active"]:
        raise GroupArchived(a.group.id)
    return [*a.notes, *contact_conflict_note(a, row["current_contact"])]
