"""The set endpoints' write path on SQLite, run by the writer thread (see `group_commit.py`).

Plain `sqlite3` calls inside the batch's transaction: SQLite has one writer at a time, so nothing
here needs a lock, and every statement is a few microseconds in-process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from subgroups.domain.models import Actor, Channel
from subgroups.domain.subscriptions import Assignment
from subgroups.errors import InvalidRequest
from subgroups.storage.write_common import (
    ProfileRow,
    archived_message,
    channel_field,
    contact_notes,
    ignored_contacts_note,
    old_state_name,
)

# How SQLAlchemy's SQLite dialect stores a DateTime: text, UTC (see tables.Timestamp).
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S.%f"
_PROFILE_COLUMNS: Final = "id, external_id, email, phone"
_INSERT_CHANGE: Final = (
    "INSERT INTO state_changes (workspace_id, profile_id, external_id, email, phone,"
    " subscription_group_id, channel, old_state, new_state, occurred_at, source, api_key_id,"
    " request_id, client_ip, operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_STATE: Final = (
    "INSERT INTO subscription_states (profile_id, group_pk, subscribed, updated_at)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (profile_id, group_pk)"
    " DO UPDATE SET subscribed = excluded.subscribed, updated_at = excluded.updated_at"
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
    _check_active(conn, assignments)
    stamp = at.astimezone(UTC).strftime(_TIME_FORMAT)
    notes: list[str] = []
    for a in assignments:
        targets = _resolve(conn, workspace_id, a, stamp, notes)
        _write_states(conn, workspace_id, a, targets, actor, stamp)
    return notes


def _check_active(conn: sqlite3.Connection, assignments: Sequence[Assignment]) -> None:
    pks = sorted({a.group.pk for a in assignments})
    row = conn.execute(
        f"SELECT id FROM subscription_groups WHERE pk IN ({_marks(len(pks))})"
        " AND archived_at IS NOT NULL LIMIT 1",
        pks,
    ).fetchone()
    if row is not None:
        raise InvalidRequest(archived_message(row[0]))


def _resolve(
    conn: sqlite3.Connection, workspace_id: int, a: Assignment, stamp: str, notes: list[str]
) -> list[ProfileRow]:
    channel = a.group.channel
    if a.profile_ids:
        return _find(conn, workspace_id, "id", a.profile_ids)
    if not a.external_ids:
        found = _find(conn, workspace_id, channel_field(channel), a.contacts)
        known = {p[2] if channel == "email" else p[3] for p in found}
        created = [
            _insert(conn, workspace_id, None, channel, c, stamp)
            for c in a.contacts
            if c not in known
        ]
        return found + created
    found = _find(conn, workspace_id, "external_id", a.external_ids)
    single = a.contacts[0] if len(a.external_ids) == 1 and len(a.contacts) == 1 else None
    if a.contacts and single is None:
        notes.append(ignored_contacts_note(channel))
    if single is not None and found:
        current = found[0][2] if channel == "email" else found[0][3]
        notes.extend(contact_notes(channel, found[0][1], current, single))
        if current is None:
            found[0] = _record_contact(conn, found[0], channel, single)
    known_ids = {p[1] for p in found}
    created = [
        _insert(conn, workspace_id, x, channel, single, stamp)
        for x in a.external_ids
        if x not in known_ids
    ]
    return found + created


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
    channel: Channel,
    contact: str | None,
    stamp: str,
) -> ProfileRow:
    email = contact if channel == "email" else None
    phone = contact if channel == "sms" else None
    cursor = conn.execute(
        "INSERT INTO profiles (workspace_id, external_id, email, phone, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (workspace_id, external_id, email, phone, stamp),
    )
    assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
    return (cursor.lastrowid, external_id, email, phone)


def _record_contact(
    conn: sqlite3.Connection, profile: ProfileRow, channel: Channel, contact: str
) -> ProfileRow:
    column = "email" if channel == "email" else "phone"
    conn.execute(f"UPDATE profiles SET {column} = ? WHERE id = ?", (contact, profile[0]))
    if channel == "email":
        return (profile[0], profile[1], contact, profile[3])
    return (profile[0], profile[1], profile[2], contact)


def _write_states(
    conn: sqlite3.Connection,
    workspace_id: int,
    a: Assignment,
    targets: list[ProfileRow],
    actor: Actor,
    stamp: str,
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
    subscribed = 1 if a.state.value == "subscribed" else 0
    changed = [pid for pid in ids if current.get(pid) != subscribed]
    if not changed:
        return
    group, new_state = a.group, a.state.value
    conn.executemany(_UPSERT_STATE, [(pid, group.pk, subscribed, stamp) for pid in changed])
    conn.executemany(
        _INSERT_CHANGE,
        [
            (
                workspace_id,
                pid,
                by_id[pid][1],
                by_id[pid][2],
                by_id[pid][3],
                group.id,
                group.channel,
                old_state_name(current.get(pid)),
                new_state,
                stamp,
                actor.source.value,
                actor.api_key_id,
                actor.request_id,
                actor.client_ip,
                actor.operator,
            )
            for pid in changed
        ],
    )


def _marks(count: int) -> str:
    return ", ".join("?" * count)
