"""An import's batches on PostgreSQL: one transaction per batch, set-based, on raw asyncpg.

A batch is applied as the set endpoints would apply its rows one after another, in a handful of
statements instead of several per row:
1. the groups are locked FOR SHARE (archiving waits; an archived group stops the batch);
2. the advisory locks of the contacts it may create profiles for are taken, sorted, with the
   keys the set endpoints use;
3. the profiles the rows select are found, created and annotated (`postgres_import_people.py`);
4. the states are written in waves: a wave holds no (profile, group) twice, and a row whose pair
   an earlier row touched goes to a later wave, so each pair sees the rows in file order. Each
   wave locks its existing states FOR UPDATE in (group, profile) order, the set endpoints' order,
   decides each one (the rule of §10 included) from the locked row, then writes the changes and
   their records in one statement.
A state that did not exist when read but was created concurrently before the insert is left as
the other request set it (ON CONFLICT DO NOTHING): an import never overwrites what it has not
seen. A deadlock with a concurrent request fails the batch, which is then run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import asyncpg

from subgroups.domain.import_people import Identifiers, Person, Selection
from subgroups.domain.imports import (
    ImportCounts,
    ImportRow,
    RowError,
    RowOutcome,
    may_resubscribe,
    tally,
)
from subgroups.domain.models import Actor, Source
from subgroups.errors import GroupArchived, LeaseLost
from subgroups.storage.change_records import (
    COLUMNS,
    PER_PROFILE,
    PER_REQUEST,
    old_state_name,
    request_values,
)
from subgroups.storage.import_jobs import (
    ERROR_COLUMNS,
    PROGRESS,
    SqlImportJobs,
    error_values,
    steps,
)
from subgroups.storage.postgres_database import PostgresDatabase, lock_ids
from subgroups.storage.postgres_import_people import select_people

_GROUPS: Final = """
SELECT pk, id, archived_at FROM subscription_groups WHERE pk = ANY($1::int[]) ORDER BY pk FOR SHARE
"""
_LOCK_STATES: Final = """
SELECT s.profile_id, s.group_pk, s.subscribed, s.updated_at
FROM subscription_states AS s
JOIN unnest($1::bigint[], $2::int[]) AS w(profile_id, group_pk)
    ON s.profile_id = w.profile_id AND s.group_pk = w.group_pk
ORDER BY s.group_pk, s.profile_id
FOR UPDATE OF s
"""
# The record's values: per change from the wave's arrays, the rest shared parameters (from $4).
_PER_CHANGE: Final = {
    "profile_id": "w.profile_id",
    "external_id": "w.external_id",
    "email": "w.email",
    "phone": "w.phone",
    "old_state": "w.old_state",
    "subscription_group_id": "w.group_id",
    "channel": "w.channel",
    "new_state": "w.new_state",
    "consented_at": "w.consented_at",
    "consent_source": "w.consent_source",
}
_SHARED: Final = tuple(c for c in PER_REQUEST if c not in _PER_CHANGE)
_FIRST_SHARED: Final = 4
_RECORD_VALUES: Final = ", ".join(
    _PER_CHANGE.get(c) or f"${_FIRST_SHARED + _SHARED.index(c)}" for c in COLUMNS
)
_WRITE_WAVE: Final = f"""
WITH w AS (
    SELECT * FROM unnest(
        $1::bigint[], $2::int[], $3::text[], ${_FIRST_SHARED + len(_SHARED)}::text[],
        ${_FIRST_SHARED + len(_SHARED) + 1}::text[], ${_FIRST_SHARED + len(_SHARED) + 2}::text[],
        ${_FIRST_SHARED + len(_SHARED) + 3}::text[], ${_FIRST_SHARED + len(_SHARED) + 4}::text[],
        ${_FIRST_SHARED + len(_SHARED) + 5}::text[],
        ${_FIRST_SHARED + len(_SHARED) + 6}::timestamptz[],
        ${_FIRST_SHARED + len(_SHARED) + 7}::text[]
    ) AS w(profile_id, group_pk, old_state, new_state, external_id, email, phone, group_id,
        channel, consented_at, consent_source)
), inserted AS (
    INSERT INTO subscription_states (profile_id, group_pk, subscribed, updated_at)
    SELECT profile_id, group_pk, new_state = 'subscribed', ${_FIRST_SHARED + _SHARED.index("occurred_at")}
    FROM w WHERE old_state IS NULL ORDER BY group_pk, profile_id
    ON CONFLICT (profile_id, group_pk) DO NOTHING
    RETURNING profile_id, group_pk
), updated AS (
    UPDATE subscription_states AS s
    SET subscribed = w.new_state = 'subscribed',
        updated_at = ${_FIRST_SHARED + _SHARED.index("occurred_at")}
    FROM w WHERE w.old_state IS NOT NULL AND s.profile_id = w.profile_id AND s.group_pk = w.group_pk
    RETURNING s.profile_id, s.group_pk
), done AS (
    SELECT profile_id, group_pk FROM inserted UNION ALL SELECT profile_id, group_pk FROM updated
), recorded AS (
    INSERT INTO state_changes ({", ".join(COLUMNS)})
    SELECT {_RECORD_VALUES}
    FROM done JOIN w ON w.profile_id = done.profile_id AND w.group_pk = done.group_pk
    ORDER BY w.group_pk, w.profile_id
    RETURNING 1
)
SELECT profile_id, group_pk FROM done
"""
_PROGRESS: Final = PROGRESS.format(*(f"${i}" for i in range(1, PROGRESS.count("{}") + 1)))
_INSERT_ERROR: Final = (
    f"INSERT INTO import_errors ({', '.join(ERROR_COLUMNS)})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(ERROR_COLUMNS) + 1))})"
    " ON CONFLICT DO NOTHING"
)
_DEADLOCK_RETRIES: Final = 5
assert set(PER_PROFILE) <= set(_PER_CHANGE)  # every per-profile value comes from the wave


class PostgresImportStore(SqlImportJobs):
    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(db)
        self._pg = db

    async def apply(
        self,
        *,
        workspace_id: int,
        import_id: str,
        owner: str,
        rows: Sequence[ImportRow],
        invalid: Sequence[RowError],
        at: datetime,
        dry_run: bool,
        created_before: set[str] | None = None,
    ) -> ImportCounts:
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                async with self._pg.raw() as conn:
                    return await self._batch(
                        conn,
                        workspace_id,
                        import_id,
                        owner,
                        rows,
                        invalid,
                        at,
                        dry_run,
                        created_before,
                    )
            except asyncpg.DeadlockDetectedError:
                if attempt == _DEADLOCK_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _batch(
        self,
        conn: asyncpg.Connection,
        workspace_id: int,
        import_id: str,
        owner: str,
        rows: Sequence[ImportRow],
        invalid: Sequence[RowError],
        at: datetime,
        dry_run: bool,
        created_before: set[str] | None = None,
    ) -> ImportCounts:
        transaction = conn.transaction()
        await transaction.start()
        try:
            outcomes = await _apply_rows(conn, workspace_id, import_id, rows, at)
            counts, errors = tally(rows, outcomes, invalid, created_before if dry_run else None)
            if dry_run:
                await transaction.rollback()
                transaction = conn.transaction()
                await transaction.start()
            await _progress(conn, workspace_id, import_id, owner, at, counts, errors)
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()
        return counts


async def _apply_rows(
    conn: asyncpg.Connection,
    workspace_id: int,
    import_id: str,
    rows: Sequence[ImportRow],
    at: datetime,
) -> list[RowOutcome]:
    if not rows:
        return []
    await _lock_groups(conn, rows)
    await _lock_contacts(conn, workspace_id, rows)
    selection = await select_people(conn, workspace_id, rows, at)
    shared = _shared_values(workspace_id, rows[0], import_id, at)
    changed: set[int] = set()
    refused: dict[int, datetime] = {}
    for wave in _waves(rows, selection.targets):
        await _write_wave(conn, rows, selection, wave, shared, changed, refused)
    return [
        RowOutcome(row.line, selection.created[i], i in changed, refused.get(i))
        for i, row in enumerate(rows)
    ]


async def _lock_contacts(
    conn: asyncpg.Connection, workspace_id: int, rows: Sequence[ImportRow]
) -> None:
    """The advisory locks of the contacts the rows may create profiles for, sorted: the keys the
    set endpoints lock (no unique key guards a contact). New external ids need none: they are
    created in sorted order under their unique key."""
    keys = [
        f"{workspace_id}:{a.group.channel}:{c}"
        for r in rows
        if (a := r.assignment).creates_by_contact
        for c in a.contacts
    ]
    if keys:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", lock_ids(keys)
        )


async def _lock_groups(conn: asyncpg.Connection, rows: Sequence[ImportRow]) -> None:
    pks = sorted({r.assignment.group.pk for r in rows})
    for record in await conn.fetch(_GROUPS, pks):
        if record["archived_at"] is not None:
            raise GroupArchived(record["id"])


def _shared_values(workspace_id: int, row: ImportRow, import_id: str, at: datetime) -> list[object]:
    """The record values every change of the batch shares, in _SHARED's order."""
    actor = Actor(Source.CSV_IMPORT, import_id=import_id)
    values = dict(
        zip(PER_REQUEST, request_values(workspace_id, row.assignment, actor, at), strict=True)
    )
    return [values[c] for c in _SHARED]


def _waves(rows: Sequence[ImportRow], targets: list[list[Person]]) -> list[list[int]]:
    """The rows' indexes in waves: no (profile, group) twice in a wave, and a row after every
    earlier row that shares one of its pairs."""
    last: dict[tuple[int, int], int] = {}
    waves: list[list[int]] = []
    for i, row in enumerate(rows):
        pairs = [(p.id or 0, row.assignment.group.pk) for p in targets[i]]
        wave = max((last[pair] + 1 for pair in pairs if pair in last), default=0)
        for pair in pairs:
            last[pair] = wave
        if wave == len(waves):
            waves.append([])
        waves[wave].append(i)
    return waves


async def _write_wave(
    conn: asyncpg.Connection,
    rows: Sequence[ImportRow],
    selection: Selection,
    wave: list[int],
    shared: list[object],
    changed: set[int],
    refused: dict[int, datetime],
) -> None:
    # Each record names the profile as its row found it (a later row may record a contact).
    pairs = [
        (i, p, seen)
        for i in wave
        for p, seen in zip(selection.targets[i], selection.seen[i], strict=True)
    ]
    locked = await conn.fetch(
        _LOCK_STATES,
        [p.id for _, p, _ in pairs],
        [rows[i].assignment.group.pk for i, _, _ in pairs],
    )
    current = {(r["profile_id"], r["group_pk"]): (r["subscribed"], r["updated_at"]) for r in locked}
    writes: list[tuple[int, Person, str | None, Identifiers]] = []
    for i, person, seen in pairs:
        a = rows[i].assignment
        state = current.get((person.id, a.group.pk))
        if state is not None and state[0] == a.subscribed:
            continue
        if state is not None and a.subscribed and not may_resubscribe(a.consented_at, state[1]):
            refused[i] = max(state[1], refused.get(i, state[1]))
            continue
        writes.append((i, person, None if state is None else old_state_name(state[0]), seen))
    if not writes:
        return
    by_pair = {(p.id, rows[i].assignment.group.pk): i for i, p, _, _ in writes}
    done = await conn.fetch(
        _WRITE_WAVE,
        [p.id for _, p, _, _ in writes],
        [rows[i].assignment.group.pk for i, _, _, _ in writes],
        [old for _, _, old, _ in writes],
        *shared,
        [rows[i].assignment.state.value for i, _, _, _ in writes],
        [seen[0] for _, _, _, seen in writes],
        [seen[1] for _, _, _, seen in writes],
        [seen[2] for _, _, _, seen in writes],
        [rows[i].assignment.group.id for i, _, _, _ in writes],
        [rows[i].assignment.group.channel for i, _, _, _ in writes],
        [rows[i].assignment.consented_at for i, _, _, _ in writes],
        [rows[i].assignment.consent_source for i, _, _, _ in writes],
    )
    changed.update(by_pair[(r["profile_id"], r["group_pk"])] for r in done)


async def _progress(
    conn: asyncpg.Connection,
    workspace_id: int,
    import_id: str,
    owner: str,
    at: datetime,
    counts: ImportCounts,
    errors: list[RowError],
) -> None:
    status = await conn.execute(_PROGRESS, *steps(counts), at, workspace_id, import_id, owner)
    if status != "UPDATE 1":
        raise LeaseLost(import_id)
    if errors:
        await conn.executemany(
            _INSERT_ERROR, [error_values(workspace_id, import_id, e) for e in errors]
        )
