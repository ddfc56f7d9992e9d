"""Who the rows of an import batch select, decided for the whole batch at once, with the outcome
the set endpoints would give row after row.

The batch's profiles are read first (`wanted` names them). The rows are then walked in file
order in memory, as the API would apply them one request after another: an external id that does
not exist yet is created by its first row and found by the next ones; a contact (email or phone)
that selects nobody creates one profile, found by later rows; a row with one external id and one
contact records that contact on a profile that has none of that kind yet. Each backend then
writes what the walk decided (new profiles, recorded contacts) in a few statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from subgroups.domain.imports import ImportRow

# A profile's external id, email and phone.
Identifiers = tuple[str | None, str | None, str | None]


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

    @property
    def identifiers(self) -> Identifiers:
        return (self.external_id, self.email, self.phone)


@dataclass(slots=True)
class Selection:
    """Each row's profiles (in the rows' order), how many profiles each row created, and each
    profile's identifiers as they stood when its row selected it (a later row of the batch may
    record a contact on it)."""

    targets: list[list[Person]] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    seen: list[list[Identifiers]] = field(default_factory=list)


def wanted(rows: Sequence[ImportRow]) -> tuple[list[str], list[str], list[str]]:
    """The profiles to read, each list sorted: those with the external ids the rows name, and
    those with the emails and phones of the rows that select by contact. (A row that selects by
    external id and records a contact finds nobody by it: the walk looks profiles up by contact
    only for the rows that select by contact.)"""
    external_ids: set[str] = set()
    contacts: dict[str, set[str]] = {"email": set(), "phone": set()}
    for r in rows:
        a = r.assignment
        if a.selector == "external_id":
            external_ids.update(a.external_ids)
        else:
            contacts[a.contact_column].update(a.contacts)
    return sorted(external_ids), sorted(contacts["email"]), sorted(contacts["phone"])


class People:
    """The profiles of one batch: those read, and those its rows create or annotate."""

    def __init__(self, found: Iterable[Person]) -> None:
        self.all = list(found)
        self.by_external_id = {p.external_id: p for p in self.all if p.external_id is not None}
        self.by_contact: dict[tuple[str, str], list[Person]] = {}
        for p in self.all:
            for column in ("email", "phone"):
                value = p.contact(column)
                if value is not None:
                    self.by_contact.setdefault((column, value), []).append(p)

    def select_all(self, rows: Sequence[ImportRow]) -> Selection:
        selection = Selection()
        for row in rows:
            targets, created = self.select(row)
            selection.targets.append(targets)
            selection.created.append(created)
            selection.seen.append([p.identifiers for p in targets])
        return selection

    def select(self, row: ImportRow) -> tuple[list[Person], int]:
        """The profiles `row` selects, and how many of them it creates."""
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

    def created(self) -> list[Person]:
        """The new profiles, in the order their rows created them."""
        return [p for p in self.all if p.new]

    def recorded(self) -> list[Person]:
        """The profiles that existed and had a contact recorded, by id."""
        return sorted((p for p in self.all if p.recorded), key=lambda p: p.id or 0)

    def _add(self, person: Person) -> Person:
        self.all.append(person)
        if person.external_id is not None:
            self.by_external_id[person.external_id] = person
        return person
