"""The dashboard's read-only queries: group sizes, their daily changes, and audit trails.

Sizes are counted, not kept: one grouped COUNT over the index on
`subscription_states(group_pk, subscribed)` reads only that index (a few hundred milliseconds for a
million states), and there is no counter to drift from the states it summarises.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from subgroups.domain.models import Group, Source, State, StateChange
from subgroups.domain.reports import GroupSummary, Sizes
from subgroups.storage.engine import Database
from subgroups.storage.groups import group_from_row
from subgroups.storage.tables import state_changes as changes
from subgroups.storage.tables import subscription_groups as groups
from subgroups.storage.tables import subscription_states as states


def change_from_row(row: Mapping[Any, Any]) -> StateChange:
    return StateChange(
        **{k: v for k, v in row.items() if k not in ("old_state", "new_state", "source")},
        old_state=State(row["old_state"]) if row["old_state"] else None,
        new_state=State(row["new_state"]),
        source=Source(row["source"]),
    )


def _counts(group_pks: Select[Any]) -> Select[Any]:
    return (
        select(states.c.group_pk, states.c.subscribed, func.count())
        .where(states.c.group_pk.in_(group_pks))
        .group_by(states.c.group_pk, states.c.subscribed)
    )


async def _sizes(conn: AsyncConnection, group_pks: Select[Any]) -> dict[int, Sizes]:
    sizes: dict[int, Sizes] = {}
    for pk, subscribed, count in await conn.execute(_counts(group_pks)):
        add = Sizes(count, 0) if subscribed else Sizes(0, count)
        sizes[pk] = sizes.get(pk, Sizes()) + add
    return sizes


def _is(column: Any, state: State) -> Any:
    return func.coalesce(func.sum(case((column == state.value, 1), else_=0)), 0)


class SqlReportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def summaries(self, workspace_id: int) -> list[GroupSummary]:
        listing = select(groups).where(groups.c.workspace_id == workspace_id).order_by(groups.c.pk)
        pks = select(groups.c.pk).where(groups.c.workspace_id == workspace_id)
        async with self._db.snapshot() as conn:
            rows = (await conn.execute(listing)).mappings().all()
            sizes = await _sizes(conn, pks)
        return [GroupSummary(group_from_row(r), sizes.get(r["pk"], Sizes())) for r in rows]

    async def sizes_and_deltas(
        self, group: Group, *, since: datetime
    ) -> tuple[Sizes, dict[date, Sizes]]:
        day = self._db.utc_day(changes.c.occurred_at).label("day")
        daily = (
            select(
                day,
                _is(changes.c.new_state, State.SUBSCRIBED),
                _is(changes.c.old_state, State.SUBSCRIBED),
                _is(changes.c.new_state, State.UNSUBSCRIBED),
                _is(changes.c.old_state, State.UNSUBSCRIBED),
            )
            .where(
                changes.c.workspace_id == group.workspace_id,
                changes.c.subscription_group_id == group.id,
                changes.c.occurred_at >= since,
            )
            .group_by(day)
        )
        async with self._db.snapshot() as conn:
            sizes = (await _sizes(conn, select(groups.c.pk).where(groups.c.pk == group.pk))).get(
                group.pk, Sizes()
            )
            deltas = {
                date.fromisoformat(str(d)): Sizes(sub_in - sub_out, unsub_in - unsub_out)
                for d, sub_in, sub_out, unsub_in, unsub_out in await conn.execute(daily)
            }
        return sizes, deltas

    async def group_changes(self, group: Group, *, limit: int) -> list[StateChange]:
        query = (
            select(changes)
            .where(
                changes.c.workspace_id == group.workspace_id,
                changes.c.subscription_group_id == group.id,
            )
            .order_by(changes.c.occurred_at.desc(), changes.c.id.desc())
            .limit(limit)
        )
        async with self._db.snapshot() as conn:
            return [change_from_row(r) for r in (await conn.execute(query)).mappings()]

    async def profile_changes(
        self, workspace_id: int, profile_ids: Collection[int]
    ) -> list[StateChange]:
        query = (
            select(changes)
            .where(changes.c.workspace_id == workspace_id, changes.c.profile_id.in_(profile_ids))
            .order_by(changes.c.id.desc())
        )
        async with self._db.snapshot() as conn:
            return [change_from_row(r) for r in (await conn.execute(query)).mappings()]
