"""The read side of subscription state: a few indexed queries, each read in one snapshot.

`status/get` is one statement whatever the number of identifiers, sent without SQLAlchemy (see
`status_lookup.py`); its group comes from the group store. `user/status` is three queries in one
snapshot: a count, one page of profiles, and their states.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from subgroups.domain.models import State
from subgroups.domain.reads import GroupStatus, IdentifierKind, UserPage, UserStatus
from subgroups.storage import status_lookup
from subgroups.storage.engine import Database
from subgroups.storage.tables import profiles, subscription_groups, subscription_states

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
        matching = (profiles.c.workspace_id == workspace_id, profiles.c[kind].in_(wanted))
        async with self._db.snapshot() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(profiles).where(*matching))
            ).scalar_one()
            if offset >= total:
                return UserPage([], total)
            page = (
                await conn.execute(
                    select(
                        profiles.c.id, profiles.c.external_id, profiles.c.email, profiles.c.phone
                    )
                    .where(*matching)
                    .order_by(profiles.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            groups = await self._groups_of(conn, [row.id for row in page])
        return UserPage(
            [
                UserStatus(row.external_id, row.email, row.phone, tuple(groups.get(row.id, ())))
                for row in page
            ],
            total,
        )

    async def _groups_of(
        self, conn: AsyncConnection, profile_ids: list[int]
    ) -> Mapping[int, list[GroupStatus]]:
        query = (
            select(
                subscription_states.c.profile_id,
                subscription_groups.c.id,
                subscription_groups.c.name,
                subscription_groups.c.channel,
                subscription_states.c.subscribed,
            )
            .join(subscription_groups, subscription_groups.c.pk == subscription_states.c.group_pk)
            .where(subscription_states.c.profile_id.in_(profile_ids))
            .order_by(subscription_states.c.profile_id, subscription_groups.c.pk)
        )
        groups: dict[int, list[GroupStatus]] = {}
        for profile_id, group_id, name, channel, subscribed in await conn.execute(query):
            groups.setdefault(profile_id, []).append(
                GroupStatus(group_id, name, channel, _state(subscribed))
            )
        return groups


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
