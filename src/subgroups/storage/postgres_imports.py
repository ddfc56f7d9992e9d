"""An import's batches on PostgreSQL: one transaction per batch, on raw asyncpg.

Each row is the set endpoints' statement for one group object (`postgres_subscriptions.statement`,
the same profile look-ups and creations, upsert and record), with another tail: the upsert also
holds to the rule of §10 (a profile that unsubscribed is resubscribed only by a row whose
`consented_at` is later), checked on the newest row version under its lock, and each row's
outcome goes to a temporary table instead of back to the client. The rows are sent with
`executemany`, which pipelines them: one round trip per batch rather than per row.

Locks are taken as a v2 request takes them: the advisory locks of the batch's identifiers first,
sorted, then every missing external id created in one sorted statement, then the rows. Rows
then lock states in file order, which may meet a concurrent request in the opposite order:
PostgreSQL breaks such a deadlock by failing one side, and a failed batch is simply run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Final

import asyncpg

from subgroups.domain.imports import ImportCounts, ImportRow, RowError, RowOutcome, tally
from subgroups.domain.models import Actor, Source, State
from subgroups.errors import GroupArchived, LeaseLost
from subgroups.storage.change_records import PER_REQUEST, request_values
from subgroups.storage.import_jobs import (
    ERROR_COLUMNS,
    PROGRESS,
    SqlImportJobs,
    error_values,
    steps,
)
from subgroups.storage.postgres_database import PostgresDatabase
from subgroups.storage.postgres_subscriptions import (
    FIRST_SHARED_PARAMETER,
    lock_identifiers,
    statement,
)

_CONSENTED_AT: Final = FIRST_SHARED_PARAMETER + PER_REQUEST.index("consented_at")
_LINE: Final = FIRST_SHARED_PARAMETER + len(PER_REQUEST)
# Written for statement()'s placeholders ({columns}, {values}); its parameters, then the line.
_IMPORT_TAIL: Final = f"""
current AS (
    SELECT s.profile_id, s.subscribed, s.updated_at FROM subscription_states AS s
    WHERE s.group_pk = $2 AND s.profile_id IN (SELECT id FROM targets)
), changed AS (
    INSERT INTO subscription_states AS s (profile_id, group_pk, subscribed, updated_at)
    SELECT t.id, $2, $5, $6 FROM targets AS t WHERE EXISTS (SELECT FROM g) ORDER BY t.id
    ON CONFLICT (profile_id, group_pk) DO UPDATE
        SET subscribed = EXCLUDED.subscribed, updated_at = EXCLUDED.updated_at
        WHERE s.subscribed IS DISTINCT FROM EXCLUDED.subscribed
            AND (NOT EXCLUDED.subscribed
                OR COALESCE(${_CONSENTED_AT}::timestamptz > s.updated_at, false))
    RETURNING s.profile_id, s.xmax = 0 AS inserted
), recorded AS (
    INSERT INTO state_changes ({{columns}})
    SELECT {{values}}
    FROM changed AS c JOIN targets AS t ON t.id = c.profile_id
    ORDER BY t.id
    RETURNING 1
)
INSERT INTO import_outcomes (line, active, created, changed, refused_since)
SELECT ${_LINE}, EXISTS (SELECT FROM g), (SELECT count(*) FROM created),
    (SELECT count(*) FROM changed),
    (SELECT max(c.updated_at) FROM current AS c
        WHERE $5 AND NOT c.subscribed AND c.profile_id NOT IN (SELECT profile_id FROM changed))
"""
_OUTCOMES: Final = """
CREATE TEMPORARY TABLE IF NOT EXISTS import_outcomes (
    line bigint, active boolean, created bigint, changed bigint, refused_since timestamptz
) ON COMMIT DELETE ROWS
"""
_CREATE_EXTERNAL_IDS: Final = """
INSERT INTO profiles (workspace_id, external_id, created_at)
SELECT $1, x, $3 FROM unnest($2::text[]) AS x ORDER BY x
ON CONFLICT (workspace_id, external_id) DO NOTHING
RETURNING external_id
"""
_PROGRESS: Final = PROGRESS.format(*(f"${i}" for i in range(1, PROGRESS.count("{}") + 1)))
_INSERT_ERROR: Final = (
    f"INSERT INTO import_errors ({', '.join(ERROR_COLUMNS)})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(ERROR_COLUMNS) + 1))})"
    " ON CONFLICT DO NOTHING"
)
_DEADLOCK_RETRIES: Final = 5


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
    assignments = [r.assignment for r in rows]
    await conn.execute(_OUTCOMES)
    await lock_identifiers(conn, workspace_id, assignments)
    new_ids = await _create_external_ids(conn, workspace_id, rows, at)
    actor = Actor(Source.CSV_IMPORT, import_id=import_id)
    calls = [
        (statement(r.assignment.selector, r.assignment.contact_column, _IMPORT_TAIL), r)
        for r in rows
    ]
    # Consecutive rows of one kind go together, so the file's order holds between kinds too.
    for sql, run in groupby(calls, key=itemgetter(0)):
        await conn.executemany(sql, [_arguments(workspace_id, row, actor, at) for _, row in run])
    found = await conn.fetch(
        "SELECT line, active, created, changed, refused_since FROM import_outcomes ORDER BY line"
    )
    outcomes = []
    for row, record in zip(rows, found, strict=True):
        if not record["active"]:
            raise GroupArchived(row.assignment.group.id)
        created = int(record["created"])
        if row.key in new_ids:
            created += 1
            new_ids.discard(row.key)
        outcomes.append(
            RowOutcome(row.line, created, record["changed"] > 0, record["refused_since"])
        )
    return outcomes


def _arguments(workspace_id: int, row: ImportRow, actor: Actor, at: datetime) -> tuple[object, ...]:
    a = row.assignment
    return (
        workspace_id,
        a.group.pk,
        list(a.selected_by),
        a.contact_to_record,
        a.subscribed,
        at,
        State.UNSUBSCRIBED.value if a.subscribed else State.SUBSCRIBED.value,
        *request_values(workspace_id, a, actor, at),
        row.line,
    )


async def _create_external_ids(
    conn: asyncpg.Connection, workspace_id: int, rows: Sequence[ImportRow], at: datetime
) -> set[str]:
    """Creates the batch's missing external ids, in order; the keys of the rows they belong to."""
    external_ids = sorted({x for r in rows for x in r.assignment.external_ids})
    if not external_ids:
        return set()
    created = await conn.fetch(_CREATE_EXTERNAL_IDS, workspace_id, external_ids, at)
    keys = {
        r.key: r.assignment.external_ids[0] for r in rows if r.assignment.selector == "external_id"
    }
    made = {record["external_id"] for record in created}
    return {key for key, x in keys.items() if x in made}


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
