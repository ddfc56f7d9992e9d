"""An import's batches on SQLite: one job of the group-commit writer per batch.

Each row is applied as the set endpoints apply a v1 request (`sqlite_subscriptions.resolve`, the
same profile look-ups and creations, the same state upsert and record), with one difference, the
rule of §10: a profile that unsubscribed is not resubscribed unless the row's consent is later.
The writer runs one transaction at a time, so rows are applied in file order with nothing in
between. A dry run applies the batch in its savepoint, reads the outcome, and rolls it back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

from subgroups.domain.imports import (
    ImportCounts,
    ImportRow,
    RowError,
    RowOutcome,
    may_resubscribe,
    tally,
)
from subgroups.domain.models import Actor, Source
from subgroups.errors import LeaseLost
from subgroups.storage.change_records import old_state_name
from subgroups.storage.import_jobs import (
    ERROR_COLUMNS,
    PROGRESS,
    SqlImportJobs,
    error_values,
    steps,
)
from subgroups.storage.sqlite_database import SqliteDatabase
from subgroups.storage.sqlite_subscriptions import (
    INSERT_CHANGE,
    UPSERT_STATE,
    check_active,
    record_values,
    resolve,
    sqlite_time,
)

_PROGRESS = PROGRESS.format(*("?" * (len(PROGRESS.split("{}")) - 1)))
_INSERT_ERROR = (
    f"INSERT INTO import_errors ({', '.join(ERROR_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(ERROR_COLUMNS))}) ON CONFLICT DO NOTHING"
)


class _RolledBack(Exception):
    """Carries a dry run's outcome out of the savepoint it rolls back."""

    def __init__(self, counts: ImportCounts, errors: list[RowError]) -> None:
        super().__init__("dry run")
        self.counts = counts
        self.errors = errors


class SqliteImportStore(SqlImportJobs):
    def __init__(self, db: SqliteDatabase) -> None:
        super().__init__(db)
        self._writer = db.writer

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
        batch = partial(_batch, workspace_id=workspace_id, import_id=import_id, owner=owner, at=at)
        if not dry_run:
            return await self._writer.run(partial(batch, rows=rows, invalid=invalid))
        try:
            await self._writer.run(
                partial(
                    batch, rows=rows, invalid=invalid, dry_run=True, created_before=created_before
                )
            )
        except _RolledBack as outcome:
            return await self._writer.run(
                partial(
                    _progress, workspace_id, import_id, owner, at, outcome.counts, outcome.errors
                )
            )
        raise AssertionError("a dry run always rolls back")  # pragma: no cover


def _batch(
    conn: sqlite3.Connection,
    *,
    workspace_id: int,
    import_id: str,
    owner: str,
    rows: Sequence[ImportRow],
    invalid: Sequence[RowError],
    at: datetime,
    dry_run: bool = False,
    created_before: set[str] | None = None,
) -> ImportCounts:
    check_active(conn, [r.assignment for r in rows])
    actor = Actor(Source.CSV_IMPORT, import_id=import_id)
    stamp = sqlite_time(at)
    outcomes = [_apply_row(conn, workspace_id, row, actor, stamp) for row in rows]
    counts, errors = tally(rows, outcomes, invalid, created_before)
    if dry_run:
        raise _RolledBack(counts, errors)
    return _progress(workspace_id, import_id, owner, at, counts, errors, conn)


def _progress(
    workspace_id: int,
    import_id: str,
    owner: str,
    at: datetime,
    counts: ImportCounts,
    errors: list[RowError],
    conn: sqlite3.Connection,
) -> ImportCounts:
    moved = conn.execute(
        _PROGRESS, (*steps(counts), sqlite_time(at), workspace_id, import_id, owner)
    ).rowcount
    if moved != 1:
        raise LeaseLost(import_id)
    conn.executemany(_INSERT_ERROR, [error_values(workspace_id, import_id, e) for e in errors])
    return counts


def _apply_row(
    conn: sqlite3.Connection, workspace_id: int, row: ImportRow, actor: Actor, stamp: str
) -> RowOutcome:
    a = row.assignment
    found, created = resolve(conn, workspace_id, a, stamp, [])
    by_id = {p[0]: p for p in found + created}
    ids = sorted(by_id)
    current = {
        pid: (subscribed, updated_at)
        for pid, subscribed, updated_at in conn.execute(
            "SELECT profile_id, subscribed, updated_at FROM subscription_states"
            f" WHERE group_pk = ? AND profile_id IN ({', '.join('?' * len(ids))})",
            [a.group.pk, *ids],
        )
    }
    wanted = int(a.subscribed)
    changed: list[int] = []
    refused_since: datetime | None = None
    for pid in ids:
        state = current.get(pid)
        if state is not None and state[0] == wanted:
            continue
        if state is not None and wanted:
            since = datetime.fromisoformat(state[1]).replace(tzinfo=UTC)
            if not may_resubscribe(a.consented_at, since):
                refused_since = max(since, refused_since or since)
                continue
        changed.append(pid)
    if changed:
        request = record_values(workspace_id, a, actor, stamp)
        conn.executemany(UPSERT_STATE, [(pid, a.group.pk, wanted, stamp) for pid in changed])
        conn.executemany(
            INSERT_CHANGE,
            [
                by_id[pid] + (old_state_name(current.get(pid, (None,))[0]),) + request
                for pid in changed
            ],
        )
    return RowOutcome(row.line, len(created), bool(changed), refused_since)
