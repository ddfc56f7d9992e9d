"""State as it stood at a moment (§10, `as_of`), read from the records, not from the states.

A read path of its own, apart from the live one (`reads.py`): for each profile and group, the
newest record at or before the moment holds the state then. The profiles are found by their
identifiers of today, among those that existed at the moment.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select

from subgroups.domain.models import State
from subgroups.domain.reads import GroupStatus, IdentifierKind, UserPage, UserStatus
from subgroups.storage.engine import Database
from subgroups.storage.tables import profiles, state_changes, subscription_groups


class SqlHistoryReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def states(
        self,
        workspace_id: int,
        group_id: str,
        kind: IdentifierKind,
        values: Collection[str],
        *,
        at: datetime,
    ) -> dict[str, frozenset[State]]:
        p, r = profiles, state_changes
        newest = (
            select(func.max(r.c.id))
            .where(
                r.c.workspace_id == workspace_id,
                r.c.subscription_group_id == group_id,
                r.c.occurred_at <= at,
                r.c.profile_id.in_(
                    select(p.c.id).where(p.c.workspace_id == workspace_id, p.c[kind].in_(values))
                ),
            )
            .group_by(r.c.profile_id)
        )
        query = (
            select(p.c[kind], r.c.new_state)
            .select_from(r.join(p, p.c.id == r.c.profile_id))
            .where(r.c.id.in_(newest))
        )
        found: dict[str, set[State]] = {}
        async with self._db.snapshot() as conn:
            for value, state in await conn.execute(query):
                found.setdefault(value, set()).add(State(state))
        return {value: frozenset(states) for value, states in found.items()}

    async def user_statuses(
        self,
        workspace_id: int,
        kind: IdentifierKind,
        values: Collection[str],
        *,
        at: datetime,
        limit: int,
        offset: int,
    ) -> UserPage:
        p, r, g = profiles, state_changes, subscription_groups
        matching = (
            p.c.workspace_id == workspace_id,
            p.c[kind].in_(values),
            p.c.created_at <= at,
        )
        page = select(p.c.id, p.c.external_id, p.c.email, p.c.phone).where(*matching)
        async with self._db.snapshot() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(p).where(*matching))
            ).scalar_one()
            people = (await conn.execute(page.order_by(p.c.id).limit(limit).offset(offset))).all()
            ids = [person.id for person in people]
            newest = (
                select(func.max(r.c.id))
                .where(
                    r.c.workspace_id == workspace_id, r.c.profile_id.in_(ids), r.c.occurred_at <= at
                )
                .group_by(r.c.profile_id, r.c.subscription_group_id)
            )
            rows = await conn.execute(
                select(r.c.profile_id, g.c.id, g.c.name, g.c.channel, r.c.new_state)
                .select_from(
                    r.join(
                        g,
                        (g.c.workspace_id == workspace_id) & (g.c.id == r.c.subscription_group_id),
                    )
                )
                .where(r.c.id.in_(newest))
                .order_by(r.c.profile_id, g.c.pk)
            )
            states: dict[int, list[GroupStatus]] = {}
            for profile_id, group_id, name, channel, state in rows:
                states.setdefault(profile_id, []).append(
                    GroupStatus(group_id, name, channel, State(state))
                )
        users = [
            UserStatus(
                person.external_id, person.email, person.phone, tuple(states.get(person.id, ()))
            )
            for person in people
        ]
        return UserPage(users, total)
