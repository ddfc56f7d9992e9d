"""Profiles, their states, and the state-change records: the write path of the set endpoints.

One call to `apply` is one transaction, in three steps:
1. lock the identifiers the request names (sorted; see Database.lock_keys);
2. resolve every assignment to profiles, creating the missing ones (rows only this transaction sees);
3. lock all those profiles in id order, then write states and change records.
Resolving before locking, and locking everything at once in one order, is what keeps overlapping
concurrent requests from deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from subgroups.domain.models import (
    Actor,
    Channel,
    ProfileView,
    Source,
    State,
    StateChange,
    Subscription,
)
from subgroups.domain.subscriptions import Assignment
from subgroups.errors import InvalidRequest
from subgroups.services.ports import IdentifierKind
from subgroups.storage.engine import Database
from subgroups.storage.tables import (
    profiles,
    state_changes,
    subscription_groups,
    subscription_states,
)


@dataclass(slots=True)
class _Profile:
    id: int
    external_id: str | None
    email: str | None
    phone: str | None

    def contact(self, channel: Channel) -> str | None:
        return self.email if channel == "email" else self.phone


@dataclass(slots=True)
class _Resolved:
    assignment: Assignment
    profiles: list[_Profile]
    # (profile, contact) to record on the profile once it is locked, if it still has none
    record_contact: tuple[_Profile, str] | None = None
    notes: list[str] = field(default_factory=list)


def _lock_keys(workspace_id: int, assignments: Sequence[Assignment]) -> set[str]:
    keys: set[str] = set()
    for a in assignments:
        keys.update(f"{workspace_id}:x:{x}" for x in a.external_ids)
        keys.update(f"{workspace_id}:{a.group.channel}:{c}" for c in a.contacts)
    return keys


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
        async with self._db.transaction() as conn:
            await self._db.lock_keys(conn, _lock_keys(workspace_id, assignments))
            await self._check_active(conn, assignments)
            resolved = [await self._resolve(conn, workspace_id, a, at) for a in assignments]
            await self._lock_profiles(conn, {p.id for r in resolved for p in r.profiles})
            notes: list[str] = []
            for r in resolved:
                if r.record_contact is not None:
                    await self._record_contact(conn, r, *r.record_contact)
                await self._write_states(conn, workspace_id, r, actor, at)
                notes.extend(r.notes)
            return notes

    async def _check_active(self, conn: AsyncConnection, assignments: Sequence[Assignment]) -> None:
        """Refuses the request if a group was archived after the caller read it."""
        pks = {a.group.pk for a in assignments}
        query = select(subscription_groups.c.id).where(
            subscription_groups.c.pk.in_(pks), subscription_groups.c.archived_at.is_not(None)
        )
        if self._db.for_update():
            query = query.with_for_update(read=True)
        archived = (await conn.execute(query)).scalars().first()
        if archived is not None:
            raise InvalidRequest(
                f"Subscription group '{archived}' is archived and cannot be changed"
            )

    async def _resolve(
        self, conn: AsyncConnection, workspace_id: int, a: Assignment, at: datetime
    ) -> _Resolved:
        channel = a.group.channel
        if a.profile_ids:
            return _Resolved(a, await self._find(conn, workspace_id, "id", a.profile_ids))
        if not a.external_ids:
            found = await self._find(conn, workspace_id, channel_field(channel), a.contacts)
            return _Resolved(
                a, found + await self._create_for_contacts(conn, workspace_id, a, at, found)
            )
        found = await self._find(conn, workspace_id, "external_id", a.external_ids)
        resolved = _Resolved(a, found)
        single = a.contacts[0] if len(a.external_ids) == 1 and len(a.contacts) == 1 else None
        if a.contacts and single is None:
            resolved.notes.append(
                f"{channel_field(channel)} was ignored: it is recorded only when exactly one"
                f" external_id and one {channel_field(channel)} are sent"
            )
        if single is not None and found:
            current = found[0].contact(channel)
            if current is None:
                resolved.record_contact = (found[0], single)
            elif current != single:
                resolved.notes.append(
                    f"external_id '{found[0].external_id}' already has a different"
                    f" {channel_field(channel)}; '{single}' was not recorded"
                )
        known = {p.external_id for p in found}
        missing = [x for x in a.external_ids if x not in known]
        if missing:
            contact = {channel_field(channel): single} if single is not None else {}
            rows = [
                {"workspace_id": workspace_id, "external_id": x, "created_at": at, **contact}
                for x in missing
            ]
            resolved.profiles += await self._insert(conn, rows)
        return resolved

    async def _find(
        self,
        conn: AsyncConnection,
        workspace_id: int,
        kind: str,
        values: Sequence[str] | Sequence[int],
    ) -> list[_Profile]:
        if not values:
            return []
        column = profiles.c[kind]
        query = (
            select(profiles.c.id, profiles.c.external_id, profiles.c.email, profiles.c.phone)
            .where(profiles.c.workspace_id == workspace_id, column.in_(values))
            .order_by(profiles.c.id)
        )
        return [_Profile(*row) for row in await conn.execute(query)]

    async def _create_for_contacts(
        self,
        conn: AsyncConnection,
        workspace_id: int,
        a: Assignment,
        at: datetime,
        found: list[_Profile],
    ) -> list[_Profile]:
        channel = a.group.channel
        known = {p.contact(channel) for p in found}
        rows = [
            {"workspace_id": workspace_id, channel_field(channel): c, "created_at": at}
            for c in a.contacts
            if c not in known
        ]
        return await self._insert(conn, rows) if rows else []

    async def _insert(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[_Profile]:
        created: list[_Profile] = []
        # Row by row: SQLite cannot RETURNING from a multi-row INSERT in a guaranteed order.
        statement = profiles.insert().returning(profiles.c.id)
        for row in rows:
            profile_id = (await conn.execute(statement, row)).scalar_one()
            created.append(
                _Profile(profile_id, row.get("external_id"), row.get("email"), row.get("phone"))
            )
        return created

    async def _lock_profiles(self, conn: AsyncConnection, ids: set[int]) -> None:
        if ids and self._db.for_update():
            await conn.execute(
                select(profiles.c.id)
                .where(profiles.c.id.in_(sorted(ids)))
                .order_by(profiles.c.id)
                .with_for_update()
            )

    async def _record_contact(
        self, conn: AsyncConnection, r: _Resolved, profile: _Profile, contact: str
    ) -> None:
        field = channel_field(r.assignment.group.channel)
        column = profiles.c[field]
        done = await conn.execute(
            update(profiles)
            .where(profiles.c.id == profile.id, column.is_(None))
            .values({field: contact})
        )
        if done.rowcount == 1:
            setattr(profile, field, contact)

    async def _write_states(
        self, conn: AsyncConnection, workspace_id: int, r: _Resolved, actor: Actor, at: datetime
    ) -> None:
        group, state = r.assignment.group, r.assignment.state
        targets = {p.id: p for p in r.profiles}
        if not targets:
            return
        rows = await conn.execute(
            select(subscription_states.c.profile_id, subscription_states.c.subscribed).where(
                subscription_states.c.group_pk == group.pk,
                subscription_states.c.profile_id.in_(targets),
            )
        )
        # Not dict(rows): a result has .keys(), so dict() would read it as a mapping of columns.
        current: dict[int, bool] = {pid: sub for pid, sub in rows}  # noqa: C416
        subscribed = state is State.SUBSCRIBED
        changed = sorted(pid for pid in targets if current.get(pid) is not subscribed)
        if not changed:
            return
        upsert = self._db.insert(subscription_states)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[subscription_states.c.profile_id, subscription_states.c.group_pk],
                set_={
                    "subscribed": upsert.excluded.subscribed,
                    "updated_at": upsert.excluded.updated_at,
                },
            ),
            [
                {
                    "profile_id": pid,
                    "group_pk": group.pk,
                    "subscribed": subscribed,
                    "updated_at": at,
                }
                for pid in changed
            ],
        )
        await conn.execute(
            state_changes.insert(),
            [
                {
                    "workspace_id": workspace_id,
                    "profile_id": pid,
                    "external_id": targets[pid].external_id,
                    "email": targets[pid].email,
                    "phone": targets[pid].phone,
                    "subscription_group_id": group.id,
                    "channel": group.channel,
                    "old_state": _state_name(current.get(pid)),
                    "new_state": state.value,
                    "occurred_at": at,
                    "source": actor.source.value,
                    "api_key_id": actor.api_key_id,
                    "request_id": actor.request_id,
                    "client_ip": actor.client_ip,
                    "operator": actor.operator,
                }
                for pid in changed
            ],
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


def channel_field(channel: Channel) -> str:
    return "email" if channel == "email" else "phone"


def _state(subscribed: bool) -> State:
    return State.SUBSCRIBED if subscribed else State.UNSUBSCRIBED


def _state_name(subscribed: bool | None) -> str | None:
    return None if subscribed is None else _state(subscribed).value
