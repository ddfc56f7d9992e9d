"""Profiles, their states and the state-change records, as the set endpoints' stores read them.

Each backend has its own store, for the write path of the set endpoints (`apply`):
`SqliteSubscriptionStore` (`sqlite_subscriptions.py`) and `PostgresSubscriptionStore`
(`postgres_subscriptions.py`). Both skip SQLAlchemy there, whose per-statement cost outweighs the
statements themselves on the hot path. The reads below are shared, on SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select

from subgroups.domain.models import ProfileView, State, StateChange, Subscription
from subgroups.domain.reads import IdentifierKind
from subgroups.storage.change_records import read_changes
from subgroups.storage.engine import Database
from subgroups.storage.tables import (
    profiles,
    subscription_groups,
    subscription_states,
)


class SubscriptionReads:
    """The reads both backends' subscription stores share."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def profiles(
        self, workspace_id: int, kind: IdentifierKind, values: Sequence[str]
    ) -> list[ProfileView]:
        return await self._views(workspace_id, profiles.c[kind].in_(values))

    async def profile(self, workspace_id: int, profile_id: int) -> ProfileView | None:
        found = await self._views(workspace_id, profiles.c.id == profile_id)
        return found[0] if found else None

    async def _views(self, workspace_id: int, matching: ColumnElement[bool]) -> list[ProfileView]:
        async with self._db.snapshot() as conn:
            query = (
                select(profiles)
                .where(profiles.c.workspace_id == workspace_id, matching)
                .order_by(profiles.c.id)
            )
            rows = (await conn.execute(query)).mappings().all()
            subs: dict[int, list[Subscription]] = {row["id"]: [] for row in rows}
            if subs:
                states = await conn.execute(
                    select(
                        subscription_states.c.profile_id,
                        subscription_groups.c.id,
                        subscription_states.c.subscribed,
                        subscription_states.c.updated_at,
                    )
                    .join(
                        subscription_groups,
                        subscription_groups.c.pk == subscription_states.c.group_pk,
                    )
                    .where(subscription_states.c.profile_id.in_(subs))
                    .order_by(subscription_states.c.profile_id, subscription_groups.c.pk)
                )
                for pid, gid, subscribed, updated_at in states:
                    subs[pid].append(Subscription(gid, _state(subscribed), updated_at))
            return [
                ProfileView(
                    id=row["id"],
                    external_id=row["external_id"],
                    email=row["email"],
                    phone=row["phone"],
                    created_at=row["created_at"],
                    subscriptions=tuple(subs[row["id"]]),
                )
                for row in rows
            ]

    async def changes(
        self, workspace_id: int, *, after: int | None, limit: int | None
    ) -> list[StateChange]:
        return await read_changes(self._db, workspace_id, after=after, limit=limit, through=None)


def _state(subscribed: bool) -> State:
    return State.SUBSCRIBED if subscribed else State.UNSUBSCRIBED
