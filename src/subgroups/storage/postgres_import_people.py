"""Who the rows of an import batch select, on PostgreSQL: found, created and annotated for the
whole batch at once, with the outcome the set endpoints would give row after row.

The batch's profiles are read in one statement. The rows are then walked in file order in
memory, as the API would apply them one request after another: an external id that does not
exist yet is created by its first row and found by the next ones; a contact (email or phone)
that selects nobody creates one profile, found by later rows; a row with one external id and one
contact records that contact on a profile that has none of that kind yet. What the walk decided
is then written in three statements (new external ids, new contacts, recorded contacts), each in
sorted order, after the batch took the advisory locks of its contacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import asyncpg

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


@dataclass(slots=True, eq=False)
class Person:
    """A profile as the batch sees it; `id` is None until a new one is created."""

    id: int | None
    external_id: str | None
    email: str | None
    phone: str | None
    new: bool = False
    recorded: bool = False

    def contact(self, column: str) -> str | None:
        return self.email if column == "email" else self.phone

    def record(self, column: str, value: str) -> None:
        if column == "email":
            self.email = value
        else:
            self.phone = value
        self.recorded = not self.new


@dataclass(slots=True)
class Selection:
    """Each row's profiles (in the rows' order) and how many profiles each row created."""

    targets: list[list[Person]] = field(default_factory=list)
    created: list[int] = field(default_factory=list)


async def select_people(
    conn: asyncpg.Connection, workspace_id: int, rows: Sequence[ImportRow], at: datetime
) -> Selection:
    """Finds, creates and annotates the profiles the rows select; every Person gets its id."""
    people = await _People.read(conn, workspace_id, rows)
    selection = Selection()
    for row in rows:
        targets, created = people.select(row)
        selection.targets.append(targets)
        selection.created.append(created)
    await people.write(conn, workspace_id, at)
    return selection


class _People:
    def __init__(self, found: list[Person]) -> None:
        self.all = found
        self.by_external_id = {p.external_id: p for p in found if p.external_id is not None}
        self.by_contact: dict[tuple[str, str], list[Person]] = {}
        for p in found:
            for column in ("email", "phone"):
                value = p.contact(column)
                if value is not None:
                    self.by_contact.setdefault((column, value), []).append(p)

    @classmethod
    async def read(
        cls, conn: asyncpg.Connection, workspace_id: int, rows: Sequence[ImportRow]
    ) -> _People:
        external_ids = {x for r in rows for x in r.assignment.external_ids}
        contacts: dict[str, set[str]] = {"email": set(), "phone": set()}
        for r in rows:
            contacts[r.assignment.contact_column].update(r.assignment.contacts)
        found = await conn.fetch(
            _FIND,
            workspace_id,
            sorted(external_ids),
            sorted(contacts["email"]),
            sorted(contacts["phone"]),
        )
        return cls([Person(*record) for record in found])

    def select(self, row: ImportRow) -> tuple[list[Person], int]:
        a = row.assignment
        column = a.contact_column
        if a.selector == "external_id":
            x = a.external_ids[0]
            person = self.by_external_id.get(x)
            created = person is None
            if person is None:
                person = self._add(Person(None, x, None, None, new=True))
            single = a.contact_to_record
            if single is not None and person.contact(column) is None:
                person.record(column, single)
                self.by_contact.setdefault((column, single), []).append(person)
            return [person], int(created)
        value = a.contacts[0]
        matching = self.by_contact.get((column, value))
        if matching:
            return list(matching), 0
        email, phone = (value, None) if column == "email" else (None, value)
        person = self._add(Person(None, None, email, phone, new=True))
        self.by_contact[(column, value)] = [person]
        return [person], 1

    def _add(self, person: Person) -> Person:
        self.all.append(person)
        if person.external_id is not None:
            self.by_external_id[person.external_id] = person
        return person

    async def write(self, conn: asyncpg.Connection, workspace_id: int, at: datetime) -> None:
        by_external_id = [p for p in self.all if p.new and p.external_id is not None]
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
        by_contact = [p for p in self.all if p.new and p.external_id is None]
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
        recorded = sorted((p for p in self.all if p.recorded), key=lambda p: p.id or 0)
        if recorded:
            await conn.execute(
                _RECORD_CONTACTS,
                workspace_id,
                [p.id for p in recorded],
                [p.email for p in recorded],
                [p.phone for p in recorded],
            )
