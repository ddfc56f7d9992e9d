"""The set endpoints' write path on PostgreSQL: one statement per group object, on raw asyncpg.

`_statement()` builds, for one group object, a single statement that checks the group is still
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
  requests hold on it, and deadlocks (it did, in the concurrency tests).
- Profiles found by email/phone have no unique key: the identifiers are locked first (advisory,
  sorted; see engine.lock_ids) so two requests cannot both create the same new contact.
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
from typing import Final, Literal

import asyncpg

from subgroups.domain.models import Actor, Channel
from subgroups.domain.subscriptions import Assignment
from subgroups.errors import InvalidRequest
from subgroups.storage.engine import Database, lock_ids
from subgroups.storage.write_common import archived_message, contact_notes, ignored_contacts_note

_STATE_TAIL: Final = """
changed AS (
    INSERT INTO subscription_states AS s (profile_id, group_pk, subscribed, updated_at)
    SELECT t.id, $2, $5, $6 FROM targets AS t WHERE EXISTS (SELECT FROM g) ORDER BY t.id
    ON CONFLICT (profile_id, group_pk) DO UPDATE
        SET subscribed = EXCLUDED.subscribed, updated_at = EXCLUDED.updated_at
        WHERE s.subscribed IS DISTINCT FROM EXCLUDED.subscribed
    RETURNING s.profile_id, s.xmax = 0 AS inserted
), recorded AS (
    INSERT INTO state_changes (workspace_id, profile_id, external_id, email, phone,
        subscription_group_id, channel, old_state, new_state, occurred_at, source, api_key_id,
        request_id, client_ip, operator)
    SELECT $1, t.id, t.external_id, {email}, {phone}, $7, $8,
        CASE WHEN c.inserted THEN NULL ELSE $10 END, $9, $6, $11, $12, $13, $14, $15
    FROM changed AS c JOIN targets AS t ON t.id = c.profile_id
    ORDER BY t.id
    RETURNING 1
)
SELECT EXISTS (SELECT FROM g) AS active, {current} AS current_contact
"""

_GROUP: Final = """
WITH g AS (
    SELECT pk FROM subscription_groups WHERE pk = $2 AND archived_at IS NULL FOR SHARE
),"""

# $1 workspace, $2 group pk, $3 identifiers, $4 contact to record (single case) or NULL,
# $5 subscribed, $6 at, $7 group id, $8 channel, $9 new state, $10 old state when flipped,
# $11 source, $12 api key id, $13 request id, $14 client ip, $15 operator.
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


Selector = Literal["external_id", "contact", "profile_id"]


@cache
def _statement(selector: Selector, channel: Channel) -> str:
    column = "email" if channel == "email" else "phone"
    by_external_id = selector == "external_id"
    recorded = f"COALESCE(t.{column}, (SELECT $4::text FROM contact WHERE contact.id = t.id))"
    contact_column = recorded if by_external_id else f"t.{column}"
    other = "t.phone" if channel == "email" else "t.email"
    email, phone = (contact_column, other) if channel == "email" else (other, contact_column)
    current = f"(SELECT {column} FROM found LIMIT 1)" if by_external_id else "NULL::text"
    body = {"external_id": _BY_EXTERNAL_ID, "contact": _BY_CONTACT, "profile_id": _BY_PROFILE_ID}
    return (
        _GROUP
        + body[selector].format(column=column)
        + _STATE_TAIL.format(email=email, phone=phone, current=current)
    )


def _selector(a: Assignment) -> tuple[Selector, list[str] | list[int]]:
    if a.profile_ids:
        return "profile_id", list(a.profile_ids)
    if a.external_ids:
        return "external_id", list(a.external_ids)
    return "contact", list(a.contacts)


async def apply(
    db: Database,
    *,
    workspace_id: int,
    assignments: Sequence[Assignment],
    actor: Actor,
    at: datetime,
) -> list[str]:
    async with db.raw_postgres() as conn:
        if len(assignments) == 1 and not _needs_contact_locks(assignments[0]):
            # One statement is its own transaction: no BEGIN/COMMIT round trips.
            return await _write(conn, workspace_id, assignments[0], actor, at)
        async with conn.transaction():
            keys = [
                f"{workspace_id}:{a.group.channel}:{c}"
                for a in assignments
                if _needs_contact_locks(a)
                for c in a.contacts
            ]
            if len(assignments) > 1:
                keys += [f"{workspace_id}:x:{x}" for a in assignments for x in a.external_ids]
            if keys:
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k",
                    lock_ids(keys),
                )
            if len(assignments) > 1:
                await _create_external_ids(conn, workspace_id, assignments, at)
            notes: list[list[str]] = [[] for _ in assignments]
            for position in sorted(range(len(assignments)), key=lambda i: assignments[i].group.pk):
                notes[position] = await _write(conn, workspace_id, assignments[position], actor, at)
            return [note for group_notes in notes for note in group_notes]


def _needs_contact_locks(a: Assignment) -> bool:
    """Whether the statement may create or change profiles by email/phone, which have no unique key."""
    return bool(a.contacts) and not a.profile_ids


async def _create_external_ids(
    conn: asyncpg.Connection, workspace_id: int, assignments: Sequence[Assignment], at: datetime
) -> None:
    external_ids = sorted({x for a in assignments for x in a.external_ids})
    if external_ids:
        await conn.execute(_CREATE_EXTERNAL_IDS, workspace_id, external_ids, at)


async def _write(
    conn: asyncpg.Connection, workspace_id: int, a: Assignment, actor: Actor, at: datetime
) -> list[str]:
    group = a.group
    selector, values = _selector(a)
    by_external_id = selector == "external_id"
    single = (
        a.contacts[0]
        if by_external_id and len(a.external_ids) == 1 and len(a.contacts) == 1
        else None
    )
    subscribed = a.state.value == "subscribed"
    row = await conn.fetchrow(
        _statement(selector, group.channel),
        workspace_id,
        group.pk,
        values,
        single,
        subscribed,
        at,
        group.id,
        group.channel,
        a.state.value,
        "unsubscribed" if subscribed else "subscribed",
        actor.source.value,
        actor.api_key_id,
        actor.request_id,
        actor.client_ip,
        actor.operator,
    )
    assert row is not None  # the statement always returns one row
    if not row["active"]:
        raise InvalidRequest(archived_message(group.id))
    notes: list[str] = []
    if by_external_id and a.contacts and single is None:
        notes.append(ignored_contacts_note(group.channel))
    if single is not None:
        notes += contact_notes(group.channel, a.external_ids[0], row["current_contact"], single)
    return notes
