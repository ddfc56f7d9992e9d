"""Profiles, their states, and the state-change records: the write path of the set endpoints.

`apply` is one transaction. Its statements are dialect-specific and skip SQLAlchemy, because on
the hot path its per-statement cost outweighs the statements themselves:
- SQLite (`write_sqlite.py`): plain sqlite3 calls in the writer thread, batched with other
  requests into one transaction, each in its own savepoint (`group_commit.py`);
- PostgreSQL (`write_postgres.py`): one statement per group object on raw asyncpg, which also
  says how overlapping concurrent requests avoid lost updates and deadlocks.
The reads below stay on SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from sqlalchemy import select

from subgroups.domain.models import (
    Actor,
    ProfileView,
    Source,
    State,
    StateChange,
    Subscription,
)
from subgroups.domain.subscriptions import Assignment
from subgroups.services.ports import IdentifierKind
from subgroups.storage import write_postgres, write_sqlite
from subgroups.storage.engine import Database
from subgroups.storage.tables import (
    profiles,
    state_changes,
    subscription_groups,
    subscription_states,
)


class SqlSubscriptionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def apply(
        self,
        *,
        workspace_id: int,
        assignments: Sequence[Assignment],
        actor: Actor,
        at: datetime,
    ) -> list[str]:
        writer = self._db.sqlite_writer
        if writer is not None:
            return await writer.run(
                partial(
                    write_sqlite.apply,
                    workspace_id=workspace_id,
                    assignments=assignments,
                    actor=actor,
                    at=at,
                )
            )
        return await write_postgres.apply(
            self._db, workspace_id=workspace_id, assignments=assignments, actor=actor, at=at
        )

    async def profiles(
        self, workspace_id: int, kind: IdentifierKind, values: Sequence[str]
    ) -> list[ProfileView]:
        async with self._db.snapshot() as conn:
            query = (
                select(profiles)
                .where(profiles.c.workspace_id == workspace_id, profiles.c[kind].in_(values))
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
        query = select(state_changes).where(state_changes.c.workspace_id == workspace_id)
        if after is not None:
            query = query.where(state_changes.c.id > after)
        query = query.order_by(state_changes.c.id).limit(limit)
        async with self._db.snapshot() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            StateChange(
                **{k: v for k, v in row.items() if k not in ("old_state", "new_state", "source")},
                old_state=State(row["old_state"]) if row["old_state"] else None,
                new_state=State(row["new_state"]),
                source=Source(row["source"]),
            )
            for row in rows
        ]


def _state(subscribed: bool) -> State:
    return State.SUBSCRIBED if subscribed else State.UNSUBSCRIBED
