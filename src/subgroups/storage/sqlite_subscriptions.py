"""The set endpoints' write path on SQLite: plain `sqlite3` calls in the writer thread.

Each request's work runs inside the batch's transaction, in a savepoint of its own (see
`group_commit.py`): SQLite has one writer at a time, so nothing here needs a lock, and every
statement is a few microseconds in-process. The rules come decided in each `Assignment`; this
module only executes them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Final

from subgroups.domain.models import Actor
from subgroups.domain.subscriptions import Assignment, contact_conflict_note
from subgroups.errors import GroupArchived
from subgroups.storage.change_records import (
    PER_PROFILE,
    PER_REQUEST,
    old_state_name,
    request_values,
)
from subgroups.storage.sqlite_database import SqliteDatabase
from subgroups.storage.subscriptions import SubscriptionReads


def _marks(count: int) -> str:
    return ", ".join("?" * count)


# How SQLAlchemy's SQLite dialect stores a DateTime: text, UTC (see tables.Timestamp).
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S.%f"
# id, external_id, email, phone
ProfileRow = tuple[int, str | None, str | None, str | None]
_PROFILE_COLUMNS: Final = "id, external_id, email, phone"
# The columns that differ per profile first, so a record is that profile's values followed by the
# request's, one tuple concatenation.
INSERT_CHANGE: Final = (
    f"INSERT INTO state_changes ({', '.join(PER_PROFILE + PER_REQUEST)})"
    f" VALUES ({_marks(len(PER_PROFILE + PER_REQUEST))})"
)
UPSERT_STATE: Final = (
    "INSERT INTO subscription_states (profile_id, group_pk, subscribed, updated_at)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (profile_id, group_pk)"
    " DO UPDATE SET subscribed = excluded.subscribed, updated_at = excluded.updated_at"
)


class SqliteSubscriptionStore(SubscriptionReads):
    def __init__(self, db: SqliteDatabase) -> None:
        super().__init__(db)
        self._writer = db.writer

    async def apply(
        self,
        *,
        workspace_id: int,
        assignments: Sequence[Assignment],
        actor: Actor,
        at: datetime,
    ) -> list[str]:
        return await self._writer.run(
            partial(apply, workspace_id=workspace_id, assignments=assignments, actor=actor, at=at)
        )


def apply(
    conn: sqlite3.Connection,
    *,
    workspace_id: int,
    assignments: Sequence[Assignment],
    actor: Actor,
    at: datetime,
) -> list[str]:
    """Applies the assignments in the current transaction; the caller commits."""
    check_active(conn, assignments)
    stamp = sqlite_time(at)
    notes: list[str] = []
    for a in assignments:
        notes.extend(a.notes)
        found, created = resolve(conn, workspace_id, a, stamp, notes)
        _write_states(conn, a, found + created, stamp, record_values(workspace_id, a, actor, stamp))
    return notes


def sqlite_time(at: datetime) -> str:
    """`at` as the SQLite tables store it."""
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def record_values(workspace_id: int, a: Assignment, actor: Actor, stamp: str) -> tuple[object, ...]:
    consented = None if a.consented_at is None else sqlite_time(a.consented_at)
    return request_values(workspace_id, a, actor, stamp, consented)


def check_active(conn: sqlite3.Connection, assignments: Sequence[Assignment]) -> None:
    pks = sorted({a.group.pk for a in assignments})
    row = conn.execute(
        f"SELECT id FROM subscription_groups WHERE pk IN ({_marks(len(pks))})"
        " AND archived_at IS NOT NULL LIMIT 1",
        pks,
    ).fetchone()
    if row is not None:
        raise GroupArchived(row[0])


def resolve(
    conn: sqlite3.Connection, workspace_id: int, a: Assignment, stamp: str, notes: list[str]
) -> tuple[list[ProfileRow], list[ProfileRow]]:
    """The profiles `a` selects: those found, and those it created."""
    column = a.contact_column
    if a.selector == "profile_id":
        return _find(conn, workspace_id, "id", a.profile_ids), []
    if a.selector == "contact":
        found = _find(conn, workspace_id, column, a.contacts)
        known = {_contact(p, column) for p in found}
        created = [
            _insert(conn, workspace_id, None, column, c, stamp)
            for c in a.contacts
            if c not in known
        ]
        return found, created
    found = _find(conn, workspace_id, "external_id", a.external_ids)
    single = a.contact_to_record
    if single is not None and found:
        current = _contact(found[0], column)
        notes.extend(contact_conflict_note(a, current))
        if current is None:
            found[0] = _record_contact(conn, found[0], column, single)
    known_ids = {p[1] for p in found}
    created = [
        _insert(conn, workspace_id, x, column, single, stamp)
        for x in a.external_ids
        if x not in known_ids
    ]
    return found, created


def _contact(profile: ProfileRow, column: str) -> str | None:
    return profile[2] if column == "email" else profile[3]


def _find(
    conn: sqlite3.Connection, workspace_id: int, column: str, values: Sequence[str] | Sequence[int]
) -> list[ProfileRow]:
    if not values:
        return []
    rows = conn.execute(
        f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE workspace_id = ?"
        f" AND {column} IN ({_marks(len(values))}) ORDER BY id",
        [workspace_id, *values],
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _insert(
    conn: sqlite3.Connection,
    workspace_id: int,
    external_id: str | None,
    column: str,
    contact: str | None,
    stamp: str,
) -> ProfileRow:
    email = contact if column == "email" else None
    phone = contact if column == "phone" else None
    cursor = conn.execute(
        "INSERT INTO profiles (workspace_id, external_id, email, phone, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (workspace_id, external_id, email, phone, stamp),
    )
    assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
    return (cursor.lastrowid, external_id, email, phone)


def _record_contact(
    conn: sqlite3.Connection, profile: ProfileRow, column: str, contact: str
) -> ProfileRow:
    conn.execute(f"UPDATE profiles SET {column} = ? WHERE id = ?", (contact, profile[0]))
    if column == "email":
        return (profile[0], profile[1], contact, profile[3])
    return (profile[0], profile[1], profile[2], contact)


def _write_states(
    conn: sqlite3.Connection,
    a: Assignment,
    targets: list[ProfileRow],
    stamp: str,
    request: tuple[object, ...],
) -> None:
    if not targets:
        return
    by_id = {p[0]: p for p in targets}
    ids = sorted(by_id)
    current = dict(
        conn.execute(
            "SELECT profile_id, subscribed FROM subscription_states"
            f" WHERE group_pk = ? AND profile_id IN ({_marks(len(ids))})",
            [a.group.pk, *ids],
        ).fetchall()
    )
    subscribed = int(a.subscribed)
    changed = [pid for pid in ids if current.get(pid) != subscribed]
    if not changed:
        return
    pk = a.group.pk
    conn.executemany(UPSERT_STATE, [(pid, pk, subscribed, stamp) for pid in changed])
    conn.executemany(
        INSERT_CHANGE,
        [by_id[pid] + (old_state_name(current.get(pid)),) + request for pid in changed],
    )
