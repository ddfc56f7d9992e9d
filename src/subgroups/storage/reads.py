"""The read side of subscription state: a few indexed queries, each read in one snapshot.

`status/get` is one statement whatever the number of identifiers, sent without SQLAlchemy (see
`status_lookup.py`); its group comes from the group store. `user/status` is one statement too: the
count, one page of profiles, and their states (see `user_lookup.py`).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import orjson

from subgroups.domain.models import State
from subgroups.domain.reads import GroupStatus, IdentifierKind, UserPage, UserStatus
from subgroups.storage import status_lookup, user_lookup
from subgroups.storage.engine import Database

if TYPE_CHECKING:  # each backend's driver is loaded only where that backend is used
    from subgroups.storage.postgres_database import PostgresDatabase
    from subgroups.storage.sqlite_database import SqliteDatabase


def _storable(values: Collection[str]) -> list[str]:
    # PostgreSQL text cannot hold NUL, and binding one is an error rather than a miss; no stored
    # value contains one, so dropping them changes no answer.
    return [v for v in values if "\x00" not in v]


def _state(subscribed: bool) -> State:
    return State.SUBSCRIBED if subscribed else State.UNSUBSCRIBED


class StatusReads(abc.ABC):
    """What both backends' status readers share: `user/status`, and the answer of `states`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def states(
        self, workspace_id: int, group_pk: int, kind: IdentifierKind, values: Collection[str]
    ) -> dict[str, frozenset[State]]:
        wanted = _storable(values)
        if not wanted:
            return {}
        found: dict[str, set[State]] = {}
        for value, subscribed in await self._lookup(workspace_id, group_pk, kind, wanted):
            if subscribed is not None:  # None: the profile has no state in this group
                found.setdefault(value, set()).add(_state(bool(subscribed)))
        return {value: frozenset(states) for value, states in found.items()}

    @abc.abstractmethod
    async def _lookup(
        self, workspace_id: int, group_pk: int, kind: IdentifierKind, values: list[str]
    ) -> Sequence[tuple[str, bool | int | None]]:
        """Each profile with one of `values`: the value, and its state in the group or None."""

    async def user_statuses(
        self,
        workspace_id: int,
        kind: IdentifierKind,
        values: Collection[str],
        *,
        limit: int,
        offset: int,
    ) -> UserPage:
        wanted = _storable(values)
        if not wanted:
            return UserPage([], 0)
        rows = await self._user_rows(workspace_id, kind, wanted, limit, offset)
        return _user_page(rows)

    @abc.abstractmethod
    async def _user_rows(
        self, workspace_id: int, kind: IdentifierKind, values: list[str], limit: int, offset: int
    ) -> Sequence[user_lookup.Row]:
        """The rows of `user_lookup`'s statement for one page."""


def _user_page(rows: Sequence[user_lookup.Row]) -> UserPage:
    """A page from `user_lookup`'s rows: the count in each, then each profile's states in a run."""
    found: dict[int, tuple[UserStatus, list[GroupStatus]]] = {}
    for _total, profile_id, external_id, email, phone, group_id, name, channel, subscribed in rows:
        if profile_id is None:  # a page past the last profile: the count alone
            continue
        entry = found.get(profile_id)
        if entry is None:
            entry = found[profile_id] = (UserStatus(external_id, email, phone, ()), [])
        if group_id is not None:
            entry[1].append(GroupStatus(group_id, name, channel, _state(subscribed)))
    return UserPage(
        [replace(user, groups=tuple(groups)) for user, groups in found.values()],
        rows[0][0] if rows else 0,
    )


class SqliteStatusReader(StatusReads):
    """The lookup in a reader thread, one hand-over per request (see `sqlite_readers.py`)."""

    def __init__(self, db: SqliteDatabase) -> None:
        super().__init__(db)
        self._readers = db.readers

    async def _lookup(
        self, workspace_id: int, group_pk: int, kind: IdentifierKind, values: list[str]
    ) -> Sequence[tuple[str, bool | int | None]]:
        return await self._readers.run(
            partial(
                status_lookup.sqlite_rows,
                kind=kind,
                workspace_id=workspace_id,
                group_pk=group_pk,
                values=orjson.dumps(values).decode(),
            )
        )

    async def _user_rows(
        self, workspace_id: int, kind: IdentifierKind, values: list[str], limit: int, offset: int
    ) -> Sequence[user_lookup.Row]:
        return await self._readers.run(
            partial(
                user_lookup.sqlite_rows,
                kind=kind,
                workspace_id=workspace_id,
                values=orjson.dumps(values).decode(),
                limit=limit,
                offset=offset,
            )
        )


class PostgresStatusReader(StatusReads):
    """The lookup on the raw asyncpg pool: one prepared statement, one round trip."""

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(db)
        self._pg = db

    async def _lookup(
        self, workspace_id: int, group_pk: int, kind: IdentifierKind, values: list[str]
    ) -> Sequence[tuple[str, bool | int | None]]:
        async with self._pg.raw() as conn:
            rows: Sequence[tuple[str, bool | None]] = await conn.fetch(
                status_lookup.POSTGRES[kind], workspace_id, group_pk, values
            )
            return rows

    async def _user_rows(
        self, workspace_id: int, kind: IdentifierKind, values: list[str], limit: int, offset: int
    ) -> Sequence[user_lookup.Row]:
        async with self._pg.raw() as conn:
            rows: Sequence[user_lookup.Row] = await conn.fetch(
                user_lookup.POSTGRES[kind], workspace_id, values, limit, offset
            )
            return rows
