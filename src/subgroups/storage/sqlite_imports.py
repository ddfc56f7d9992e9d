"""An import's batches on SQLite: one job of the group-commit writer per batch.

Each row is applied as the set endpoints would apply it as a v1 request (the same profiles found,
created and annotated, the same state upsert and record), with one difference, the rule of §10:
a profile that unsubscribed is not resubscribed unless the row's consent is later. The writer
runs one transaction at a time, so nothing comes between the rows of a batch: the batch reads its
profiles and states once, decides every row in file order in memory (`domain/import_people.py`
for the profiles), and writes the outcome in a handful of statements instead of several per row.
A dry run applies the batch in its savepoint, reads the outcome, and rolls it back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Final

import orjson

from subgroups.domain.import_people import People, Person, Selection, wanted
from subgroups.domain.imports import (
    ImportCounts,
    ImportRow,
    RowError,
    RowOutcome,
    may_resubscribe,
    tally,
)
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import Assignment
from subgroups.errors import LeaseLost
from subgroups.storage.change_records import PER_PROFILE, PER_REQUEST, old_state_name
from subgroups.storage.import_jobs import (
    ERROR_COLUMNS,
    PROGRESS,
    SqlImportJobs,
    error_values,
    steps,
)
from subgroups.storage.sqlite_database import SqliteDatabase
from subgroups.storage.sqlite_subscriptions import (
    UPSERT_STATE,
    check_active,
    record_values,
    sqlite_time,
)

_VALUES: Final = "IN (SELECT value FROM json_each({}))"
_FIND: Final = " UNION ".join(
    "SELECT id, external_id, email, phone FROM profiles"
    f" WHERE workspace_id = ?1 AND {column} {_VALUES.format(f'?{n}')}"
    for n, column in ((2, "external_id"), (3, "email"), (4, "phone"))
)
_CREATE_PROFILE: Final = (
    "INSERT INTO profiles (workspace_id, external_id, email, phone, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
)
# Only the walk's decision to record: it records where the profile had none of that kind.
_RECORD_CONTACT: Final = (
    "UPDATE profiles SET email = COALESCE(email, ?), phone = COALESCE(phone, ?) WHERE id = ?"
)
_STATES: Final = (
    "SELECT profile_id, subscribed, updated_at FROM subscription_states"
    f" WHERE group_pk = ? AND profile_id {_VALUES.format('?')}"
)
# A batch's records in one statement: the values that differ per change from a JSON array of
# arrays (in _PER_CHANGE's order), the values every change of the batch shares (an import's actor,
# its time) bound once. Binding each record's 21 values one by one costs twice as much.
_PER_CHANGE: Final = (
    *PER_PROFILE,
    "subscription_group_id",
    "channel",
    "new_state",
    "consented_at",
    "consent_source",
)
_SHARED: Final = tuple(c for c in PER_REQUEST if c not in _PER_CHANGE)
_RECORD: Final = (
    f"INSERT INTO state_changes ({', '.join(_PER_CHANGE + _SHARED)}) SELECT "
    + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(_PER_CHANGE)))
    + ", "
    + ", ".join(f"?{i}" for i in range(2, len(_SHARED) + 2))
    + " FROM json_each(?1) ORDER BY key"
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
    outcomes = _apply_rows(conn, workspace_id, rows, actor, at)
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


def _apply_rows(
    conn: sqlite3.Connection,
    workspace_id: int,
    rows: Sequence[ImportRow],
    actor: Actor,
    at: datetime,
) -> list[RowOutcome]:
    """The rows' changes, decided in file order in memory from one read of their profiles and one
    of their states, then written in a few statements."""
    if not rows:
        return []
    found = conn.execute(_FIND, (workspace_id, *map(_json, wanted(rows))))
    people = People(Person(*row) for row in found)
    selection = people.select_all(rows)
    stamp = sqlite_time(at)
    _write_people(conn, workspace_id, people, stamp)
    current = _states(conn, rows, selection)
    upserts: list[tuple[int, int, int, str]] = []
    records: list[list[object]] = []
    outcomes: list[RowOutcome] = []
    for row, targets, seen, created in zip(
        rows, selection.targets, selection.seen, selection.created, strict=True
    ):
        a = row.assignment
        pk, wanted_state = a.group.pk, int(a.subscribed)
        refused_since: datetime | None = None
        changed = False
        chosen = [(_id(p), identifiers) for p, identifiers in zip(targets, seen, strict=True)]
        for pid, identifiers in chosen if len(chosen) == 1 else sorted(chosen):
            state = current.get((pid, pk))
            if state is not None and state[0] == wanted_state:
                continue
            if state is not None and wanted_state:
                since = _as_time(state[1])
                if not may_resubscribe(a.consented_at, since):
                    refused_since = max(since, refused_since or since)
                    continue
            current[(pid, pk)] = (wanted_state, at)
            upserts.append((pid, pk, wanted_state, stamp))
            records.append([pid, *identifiers, old_state_name(_old(state)), *_per_change(a)])
            changed = True
        outcomes.append(RowOutcome(row.line, created, changed, refused_since))
    conn.executemany(UPSERT_STATE, upserts)
    if records:
        shared = dict(
            zip(
                PER_REQUEST,
                record_values(workspace_id, rows[0].assignment, actor, stamp),
                strict=True,
            )
        )
        conn.execute(_RECORD, (_json(records), *(shared[c] for c in _SHARED)))
    return outcomes


def _per_change(a: Assignment) -> tuple[object, ...]:
    """The values of a change's record that differ between the rows of a batch (_PER_CHANGE)."""
    consented = None if a.consented_at is None else sqlite_time(a.consented_at)
    state = (
        "subscribed" if a.subscribed else "unsubscribed"
    )  # a.state.value, without the enum's lookup
    return (a.group.id, a.group.channel, state, consented, a.consent_source)


def _write_people(conn: sqlite3.Connection, workspace_id: int, people: People, stamp: str) -> None:
    """Creates the new profiles, in the order their rows created them, and records the contacts
    the walk recorded. The writer is the only one: the new profiles are the ids after the
    largest one (a rowid table gives each new row the largest id plus one)."""
    new = people.created()
    if new:
        (last,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM profiles").fetchone()
        conn.executemany(
            _CREATE_PROFILE,
            [(workspace_id, p.external_id, p.email, p.phone, stamp) for p in new],
        )
        made = conn.execute("SELECT id FROM profiles WHERE id > ? ORDER BY id", (last,))
        for person, (pid,) in zip(new, made, strict=True):
            person.id = pid
    recorded = people.recorded()
    if recorded:
        conn.executemany(_RECORD_CONTACT, [(p.email, p.phone, p.id) for p in recorded])


def _states(
    conn: sqlite3.Connection, rows: Sequence[ImportRow], selection: Selection
) -> dict[tuple[int, int], tuple[int, datetime | str]]:
    """The stored states of the pairs the rows name (of the profiles that existed), by (profile,
    group): subscribed, and when it was set (as stored)."""
    by_group: dict[int, set[int]] = {}
    for row, targets in zip(rows, selection.targets, strict=True):
        known = [p.id for p in targets if not p.new and p.id is not None]
        if known:
            by_group.setdefault(row.assignment.group.pk, set()).update(known)
    current: dict[tuple[int, int], tuple[int, datetime | str]] = {}
    for pk, ids in by_group.items():
        for pid, subscribed, updated_at in conn.execute(_STATES, (pk, _json(sorted(ids)))):
            current[(pid, pk)] = (subscribed, updated_at)
    return current


def _id(person: Person) -> int:
    assert person.id is not None  # every Person has its id once the people are written
    return person.id


def _as_time(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)  # stored UTC (tables.Timestamp)


def _old(state: tuple[int, datetime | str] | None) -> int | None:
    return None if state is None else state[0]


def _json(values: Sequence[object]) -> str:
    return orjson.dumps(values).decode()
