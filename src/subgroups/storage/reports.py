"""The dashboard's queries: group sizes, their daily changes, and audit trails.

Everything is summed from the change records, which every state change writes in the same
transaction: a group's sizes are its records' net changes, and so is each day's change on its
chart. Summing all of a big group's records on every view would be slow (seconds for millions), so
what the days that are over add up to is summed once and kept: the totals in `group_sizes`, the
days in `group_day_changes`. That is sound because a record is stamped with the time it is
written: once a day is over, no record joins it. The service keeps yesterday live too, as a margin
for the clocks of several servers.

The sizes are not counted from `subscription_states`: an index on (group, state) there would let
the count read the index alone, but it would also make every flip of a state update an index entry
(on PostgreSQL, never a heap-only update), which costs every write more than it saves a view.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from subgroups.domain.models import Group, State, StateChange
from subgroups.domain.reports import GroupSummary, Sizes
from subgroups.storage.change_records import change_from_row
from subgroups.storage.engine import Database
from subgroups.storage.groups import group_from_row
from subgroups.storage.tables import group_day_changes as day_changes
from subgroups.storage.tables import group_sizes
from subgroups.storage.tables import state_changes as changes
from subgroups.storage.tables import subscription_groups as groups


async def _net_changes(
    conn: AsyncConnection, key: ColumnElement[Any], *where: ColumnElement[bool]
) -> dict[Any, Sizes]:
    """How the records matching `where` move the sizes, summed per value of `key`."""
    query = (
        select(
            key,
            _is(changes.c.new_state, State.SUBSCRIBED),
            _is(changes.c.old_state, State.SUBSCRIBED),
            _is(changes.c.new_state, State.UNSUBSCRIBED),
            _is(changes.c.old_state, State.UNSUBSCRIBED),
        )
        .where(*where)
        .group_by(key)
    )
    return {
        k: Sizes(sub_in - sub_out, unsub_in - unsub_out)
        for k, sub_in, sub_out, unsub_in, unsub_out in await conn.execute(query)
    }


def _of(workspace_id: int, group_ids: Collection[str]) -> ColumnElement[bool]:
    return (changes.c.workspace_id == workspace_id) & changes.c.subscription_group_id.in_(group_ids)


async def _kept_sizes(conn: AsyncConnection, found: Sequence[Group]) -> dict[int, Sizes]:
    """The groups' sizes now: the totals kept for the days that are over, plus every record since.
    Every group must have its totals kept (see SqlReportStore._settle_totals)."""
    if not found:
        return {}
    kept = select(group_sizes).where(group_sizes.c.group_pk.in_([g.pk for g in found]))
    totals = {r["group_pk"]: r for r in (await conn.execute(kept)).mappings()}
    sizes = {g.pk: Sizes(totals[g.pk]["subscribed"], totals[g.pk]["unsubscribed"]) for g in found}
    # Normally every group is kept through the same day, but another server whose clock is ahead
    # may have moved some further: each group's records are counted from its own day.
    since: dict[date, list[Group]] = {}
    for g in found:
        since.setdefault(_as_date(totals[g.pk]["through_day"]), []).append(g)
    for day, same in since.items():
        by_id = {g.id: g for g in same}
        tail = await _net_changes(
            conn,
            changes.c.subscription_group_id,
            _of(same[0].workspace_id, by_id),
            changes.c.occurred_at >= _midnight(day),
        )
        for group_id, moved in tail.items():
            sizes[by_id[group_id].pk] += moved
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

    async def summaries(self, workspace_id: int, *, live_from: date) -> list[GroupSummary]:
        listing = select(groups).where(groups.c.workspace_id == workspace_id).order_by(groups.c.pk)
        async with self._db.snapshot() as conn:
            found = [group_from_row(r) for r in (await conn.execute(listing)).mappings()]
        await self._settle_totals(found, live_from)
        async with self._db.snapshot() as conn:
            sizes = await _kept_sizes(conn, found)
        return [GroupSummary(g, sizes.get(g.pk, Sizes())) for g in found]

    async def sizes_and_deltas(
        self, group: Group, *, first_day: date, live_from: date
    ) -> tuple[Sizes, dict[date, Sizes]]:
        await self._settle_days(group, first_day, live_from)
        await self._settle_totals([group], live_from)
        settled = select(
            day_changes.c.day, day_changes.c.subscribed, day_changes.c.unsubscribed
        ).where(
            day_changes.c.group_pk == group.pk,
            day_changes.c.day >= first_day,
            day_changes.c.day < live_from,
        )
        async with self._db.snapshot() as conn:
            deltas = {d: Sizes(sub, unsub) for d, sub, unsub in await conn.execute(settled)}
            deltas |= await self._count_days(conn, group, live_from, None)
            sizes = (await _kept_sizes(conn, [group])).get(group.pk, Sizes())
        return sizes, deltas

    async def _settle_totals(self, found: Sequence[Group], live_from: date) -> None:
        """Brings each group's kept totals up to `live_from`: the first time, by summing all of
        its records before that day; after, by adding the days that have ended since."""
        kept = select(group_sizes.c.group_pk, group_sizes.c.through_day).where(
            group_sizes.c.group_pk.in_([g.pk for g in found])
        )
        async with self._db.snapshot() as conn:
            through = {pk: _as_date(d) for pk, d in await conn.execute(kept)}
        for group in found:
            day = through.get(group.pk)
            if day is not None and day >= live_from:
                continue
            before = changes.c.occurred_at < _midnight(live_from)
            if day is not None:
                before = before & (changes.c.occurred_at >= _midnight(day))
            async with self._db.snapshot() as conn:
                added = (
                    await _net_changes(
                        conn,
                        changes.c.subscription_group_id,
                        _of(group.workspace_id, [group.id]),
                        before,
                    )
                ).get(group.id, Sizes())
            await self._keep_totals(group.pk, day, live_from, added)

    async def _keep_totals(
        self, group_pk: int, day: date | None, live_from: date, added: Sizes
    ) -> None:
        """Adds `added` to the totals kept through `day` (None: none yet), now kept through
        `live_from`. Another request may be doing the same: whichever writes first wins, and the
        other's write then matches no row (or conflicts), so nothing is added twice."""
        if day is None:
            first = self._db.insert(group_sizes).on_conflict_do_nothing()
            row = {
                "group_pk": group_pk,
                "through_day": live_from,
                "subscribed": added.subscribed,
                "unsubscribed": added.unsubscribed,
            }
            await self._db.write(lambda conn: conn.execute(first, row))
            return
        later = (
            group_sizes.update()
            .where(group_sizes.c.group_pk == group_pk, group_sizes.c.through_day == day)
            .values(
                through_day=live_from,
                subscribed=group_sizes.c.subscribed + added.subscribed,
                unsubscribed=group_sizes.c.unsubscribed + added.unsubscribed,
            )
        )
        await self._db.write(lambda conn: conn.execute(later))

    async def _settle_days(self, group: Group, first_day: date, live_from: date) -> None:
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
        # Another request may have counted the same days meanwhile, to the same result.
        keep = self._db.insert(day_changes).on_conflict_do_nothing()
        await self._db.write(lambda conn: conn.execute(keep, rows))

    async def _count_days(
        self, conn: AsyncConnection, group: Group, start: date, end: date | None
    ) -> dict[date, Sizes]:
        """The net change of the group's sizes on each UTC day in [start, end), from its records."""
        where = [_of(group.workspace_id, [group.id]), changes.c.occurred_at >= _midnight(start)]
        if end is not None:
            where.append(changes.c.occurred_at < _midnight(end))
        day = self._db.utc_day(changes.c.occurred_at).label("day")
        return {_as_date(d): moved for d, moved in (await _net_changes(conn, day, *where)).items()}

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

    async def reason_counts(self, group: Group, *, since: datetime) -> dict[str, int]:
        query = (
            select(changes.c.reason, func.count())
            .where(
                _of(group.workspace_id, [group.id]),
                changes.c.occurred_at >= since,
                changes.c.reason.is_not(None),
            )
            .group_by(changes.c.reason)
        )
        async with self._db.snapshot() as conn:
            rows = (await conn.execute(query)).all()
        return {str(reason): int(count) for reason, count in rows}
