"""The read side of subscription state: a few indexed queries in one read-only snapshot.

`status/get` is two queries whatever the number of identifiers: the group by its unique
(workspace_id, id), then profiles by their (workspace_id, <identifier>) index, each with its state
row looked up by primary key. `user/status` is three: a count, one page of profiles, and their states.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from subgroups.domain.models import Group, State
from subgroups.domain.reads import GroupStatus, IdentifierKind, UserPage, UserStatus
from subgroups.storage.engine import Database
from subgroups.storage.groups import group_from_row
from subgroups.storage.tables import profiles, subscription_groups, subscription_states


def _storable(values: Collection[str]) -> list[str]:
    # PostgreSQL text cannot hold NUL, and binding one is an error rather than a miss; no stored
    # value contains one, so dropping them changes no answer.
    return [v for v in values if "\x00" not in v]


def _state(subscribed: bool) -> State:
    return State.SUBSCRIBED if subscribed else State.UNSUBSCRIBED


def states_query(
    workspace_id: int, group_pk: int, kind: IdentifierKind, wanted: list[str]
) -> Select[str, bool | None]:
    """Each profile the values name, with its state in the group (NULL when it has none).

    The plan must be: profiles by their identifier index, then each profile's states by primary
    key (profile_id first). The group is compared as `group_pk + 0`, an expression no index
    covers, so that the planner cannot walk the (group_pk, subscribed) index instead. It would,
    whenever its statistics still describe the group as nearly empty: a group filled since the
    last ANALYZE, on a table large enough that autovacuum waits millions of rows before it
    analyses again. 50 lookups then became a scan of every member of the group (tested in
    tests/storage/test_read_plans.py).
    """
    column = profiles.c[kind]
    state = (
        select(subscription_states.c.subscribed)
        .where(
            subscription_states.c.profile_id == profiles.c.id,
            subscription_states.c.group_pk + literal_column("0") == group_pk,
        )
        .scalar_subquery()
    )
    return select(column, state).where(profiles.c.workspace_id == workspace_id, column.in_(wanted))


class SqlStatusReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def group_states(
        self, workspace_id: int, group_id: str, kind: IdentifierKind, values: Collection[str]
    ) -> tuple[Group | None, dict[str, frozenset[State]]]:
        if "\x00" in group_id:
            return None, {}
        async with self._db.snapshot() as conn:
            group = await self._group(conn, workspace_id, group_id)
            wanted = _storable(values)
            if group is None or not wanted:
                return group, {}
            query = states_query(workspace_id, group.pk, kind, wanted)
            found: dict[str, set[State]] = {}
            for value, subscribed in await conn.execute(query):
                if subscribed is not None:  # None: the profile has no state in this group
                    found.setdefault(value, set()).add(_state(subscribed))
        return group, {value: frozenset(states) for value, states in found.items()}

    async def _group(self, conn: AsyncConnection, workspace_id: int, group_id: str) -> Group | None:
        query = select(subscription_groups).where(
            subscription_groups.c.workspace_id == workspace_id,
            subscription_groups.c.id == group_id,
        )
        row = (await conn.execute(query)).mappings().first()
        return group_from_row(row) if row else None

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
