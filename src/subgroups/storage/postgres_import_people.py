"""Who the rows of an import batch select, on PostgreSQL: the batch's profiles read in one
statement, the rows walked in memory (`domain/import_people.py`), and what the walk decided
written in three statements (new external ids, new contacts, recorded contacts), each in sorted
order, after the batch took the advisory locks of its contacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import asyncpg

from subgroups.domain.import_people import People, Person, Selection, wanted
from subgroups.domain.imports import ImportRow

# One index probe per value (LATERAL): planned by the values alone, not by table statistics, which
# lag behind a table that an import is filling (a new database, autovacuum not yet run).
_FIND: Final = """
SELECT p.id, p.external_id, p.email, p.phone
FROM unnest($2::text[]) AS v(x) CROSS JOIN LATERAL (
    SELECT * FROM profiles WHERE workspace_id = $1 AND external_id = v.x OFFSET 0
) AS p
UNION
SELECT p.id, p.external_id, p.email, p.phone
FROM unnest($3::text[]) AS v(e) CROSS JOIN LATERAL (
    SELECT * FROM profiles WHERE workspace_id = $1 AND email = v.e OFFSET 0
) AS p
UNION
SELECT p.id, p.external_id, p.email, p.phone
FROM unnest($4::text[]) AS v(ph) CROSS JOIN LATERAL (
    SELECT * FROM profiles WHERE workspace_id = $1 AND phone = v.ph OFFSET 0
) AS p
ORDER BY id
"""
# A profile a concurrent request created since the read is taken as found (the no-op update
# returns it): the same as the set endpoints do.
_CREATE_EXTERNAL_IDS: Final = """
INSERT INTO profiles AS p (workspace_id, external_id, email, phone, created_at)
SELECT $1, x, e, ph, $5 FROM unnest($2::text[], $3::text[], $4::text[]) AS n(x, e, ph) ORDER BY x
ON CONFLICT (workspace_id, external_id) DO UPDATE SET created_at = p.created_at
RETURNING id, external_id
"""
_CREATE_CONTACTS: Final = """
INSERT INTO profiles (workspace_id, email, phone, created_at)
SELECT $1, e, ph, $4 FROM unnest($2::text[], $3::text[]) AS n(e, ph) ORDER BY e, ph
RETURNING id, email, phone
"""
# Never overwrites a contact: one recorded concurrently since the read stays.
_RECORD_CONTACTS: Final = """
UPDATE profiles AS p SET email = COALESCE(p.email, n.e), phone = COALESCE(p.phone, n.ph)
FROM unnest($2::bigint[], $3::text[], $4::text[]) AS n(id, e, ph)
WHERE p.workspace_id = $1 AND p.id = n.id
"""


async def select_people(
    conn: asyncpg.Connection, workspace_id: int, rows: Sequence[ImportRow], at: datetime
) -> Selection:
    """Finds, creates and annotates the profiles the rows select; every Person gets its id."""
    found = await conn.fetch(_FIND, workspace_id, *wanted(rows))
    people = People(Person(*record) for record in found)
    selection = people.select_all(rows)
    await _write(conn, people, workspace_id, at)
    return selection


async def _write(conn: asyncpg.Connection, people: People, workspace_id: int, at: datetime) -> None:
    by_external_id = [p for p in people.all if p.new and p.external_id is not None]
    if by_external_id:
        made = await conn.fetch(
            _CREATE_EXTERNAL_IDS,
            workspace_id,
            [p.external_id for p in by_external_id],
            [p.email for p in by_external_id],
            [p.phone for p in by_external_id],
            at,
        )
        ids = {r["external_id"]: r["id"] for r in made}
        for p in by_external_id:
            p.id = ids[p.external_id]
    by_contact = [p for p in people.all if p.new and p.external_id is None]
    if by_contact:
        made = await conn.fetch(
            _CREATE_CONTACTS,
            workspace_id,
            [p.email for p in by_contact],
            [p.phone for p in by_contact],
            at,
        )
        contact_ids = {(r["email"], r["phone"]): r["id"] for r in made}
        for p in by_contact:
            p.id = contact_ids[(p.email, p.phone)]
    recorded = sorted((p for p in people.all if p.recorded), key=lambda p: p.id or 0)
    if recorded:
        await conn.execute(
            _RECORD_CONTACTS,
            workspace_id,
            [p.id for p in recorded],
            [p.email for p in recorded],
            [p.phone for p in recorded],
        )
