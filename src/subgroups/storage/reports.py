"""The dashboard's queries: group sizes, their daily changes, and audit trails.

Sizes are counted, not kept: one grouped COUNT over the index on
`subscription_states(group_pk, subscribed)` reads only that index, and there is no counter to drift
from the states it summarises, nor any work added to the API's write path.

A size chart needs each day's net change. Counting 90 days of records on every view is slow for a
big group (seconds for a million profiles), so the days that are over are counted once and kept in
`group_day_changes`. That is sound because a record is stamped with the time it is written: once a
day is over, no record joins it. The service keeps yesterday live too, as a margin for the clocks
of several servers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from subgroups.domain.models import Group, Source, State, StateChange
from subgroups.domain.reports import GroupSummary, Sizes
from subgroups.storage.engine import Database
from subgroups.storage.groups import group_from_row
from subgroups.storage.tables import group_day_changes as day_changes
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


async def _sizes(conn: AsyncConnection, group_pks: list[int]) -> dict[int, Sizes]:
    """One grouped COUNT over the (group_pk, subscribed) index. The pks are given as values, not
    a subquery, so that PostgreSQL reads that index alone too instead of joining whole tables."""
    if not group_pks:
        return {}
    counts = (
        select(states.c.group_pk, states.c.subscribed, func.count())
        .where(states.c.group_pk.in_(group_pks))
        .group_by(states.c.group_pk, states.c.subscribed)
    )
    sizes: dict[int, Sizes] = {}
    for pk, subscribed, count in await conn.execute(counts):
        add = Sizes(count, 0) if subscribed else Sizes(0, count)
        sizes[pk] = sizes.get(pk, Sizes()) + add
    return sizes


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _as_date(value: date | str) -> date:
    """A day as read back: a date, or its ISO text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _is(column: Any, state: State) -> Any:
    return func.coalesce(func.sum(case((column == state.value, 1), else_=0)), 0)


class SqlReportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def summaries(self, workspace_id: int) -> list[GroupSummary]:
        listing = select(groups).where(groups.c.workspace_id == workspace_id).order_by(groups.c.pk)
        async with self._db.snapshot() as conn:
            rows = (await conn.execute(listing)).mappings().all()
            sizes = await _sizes(conn, [row["pk"] for row in rows])
        return [GroupSummary(group_from_row(r), sizes.get(r["pk"], Sizes())) for r in rows]

    async def sizes_and_deltas(
        self, group: Group, *, first_day: date, live_from: date
    ) -> tuple[Sizes, dict[date, Sizes]]:
        await self._settle(group, first_day, live_from)
        settled = select(
            day_changes.c.day, day_changes.c.subscribed, day_changes.c.unsubscribed
        ).where(
            day_changes.c.group_pk == group.pk,
            day_changes.c.day >= first_day,
            day_changes.c.day < live_from,
        )
        async with self._db.snapshot() as conn:
            sizes = (await _sizes(conn, [group.pk])).get(group.pk, Sizes())
            deltas = {d: Sizes(sub, unsub) for d, sub, unsub in await conn.execute(settled)}
            deltas |= await self._count_days(conn, group, live_from, None)
        return sizes, deltas

    async def _settle(self, group: Group, first_day: date, live_from: date) -> None:
        """Counts and keeps the days in [first_day, live_from) not counted yet."""
        known = select(day_changes.c.day).where(
            day_changes.c.group_pk == group.pk,
            day_changes.c.day >= first_day,
            day_changes.c.day < live_from,
        )
        async with self._db.snapshot() as conn:
            done = {_as_date(d) for d in (await conn.execute(known)).scalars()}
        missing = [
            first_day + timedelta(days=n)
            for n in range((live_from - first_day).days)
            if first_day + timedelta(days=n) not in done
        ]
        if not missing:
            return
        async with self._db.snapshot() as conn:
            counted = await self._count_days(conn, group, missing[0], live_from)
        rows = [
            {
                "group_pk": group.pk,
                "day": d,
                "subscribed": counted.get(d, Sizes()).subscribed,
                "unsubscribed": counted.get(d, Sizes()).unsubscribed,
            }
            for d in missing
        ]
        async with self._db.transaction() as conn:
            # Another request may have counted the same days meanwhile, to the same result.
            await conn.execute(self._db.insert(day_changes).on_conflict_do_nothing(), rows)

    async def _count_days(
        self, conn: AsyncConnection, group: Group, start: date, end: date | None
    ) -> dict[date, Sizes]:
        """The net change of the group's sizes on each UTC day in [start, end), from its records."""
        day = self._db.utc_day(changes.c.occurred_at).label("day")
        query = (
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
                changes.c.occurred_at >= _midnight(start),
            )
            .group_by(day)
        )
        if end is not None:
            query = query.where(changes.c.occurred_at < _midnight(end))
        return {
            _as_date(d): Sizes(sub_in - sub_out, unsub_in - unsub_out)
            for d, sub_in, sub_out, unsub_in, unsub_out in await conn.execute(query)
        }

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
