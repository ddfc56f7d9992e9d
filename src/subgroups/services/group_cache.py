"""A short-lived memory of the groups that exist, so the set endpoints skip a database read.

Only groups that were found are remembered, so a group created a moment ago is seen at once.
What a set request uses of a group (its key, channel and archival) changes only by archiving,
and archival is enforced again inside the write transaction (SubscriptionStore.apply), so a stale
entry can at worst let a request reach that check instead of being refused one step earlier.
Archiving or renaming through this process forgets the group at once. A busy group is reloaded in
the background before it expires (`refresh_ahead.py`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from subgroups.domain.models import Channel, Group
from subgroups.services.ports import GroupStore
from subgroups.services.refresh_ahead import RefreshAheadCache


class CachedGroupStore:
    """A GroupStore that remembers `find` results for `seconds`; 0 turns the memory off."""

    def __init__(self, store: GroupStore, *, seconds: float) -> None:
        self._store = store
        self._found: RefreshAheadCache[tuple[int, str], Group] = RefreshAheadCache(seconds)

    async def find(self, workspace_id: int, group_ids: Collection[str]) -> dict[str, Group]:
        hits: dict[str, Group] = {}
        for gid in group_ids:
            group = self._found.get((workspace_id, gid), self._reload)
            if group is None:
                break
            hits[gid] = group
        else:
            return hits
        found = await self._store.find(workspace_id, group_ids)
        for gid, group in found.items():
            self._found.put((workspace_id, gid), group)
        return found

    async def close(self) -> None:
        await self._found.close()

    async def _reload(self, key: tuple[int, str]) -> Group | None:
        workspace_id, group_id = key
        return (await self._store.find(workspace_id, [group_id])).get(group_id)

    async def create(
        self,
        *,
        workspace_id: int,
        group_id: str,
        name: str,
        channel: Channel,
        description: str | None,
        at: datetime,
    ) -> Group:
        return await self._store.create(
            workspace_id=workspace_id,
            group_id=group_id,
            name=name,
            channel=channel,
            description=description,
            at=at,
        )

    async def list(self, workspace_id: int) -> list[Group]:
        return await self._store.list(workspace_id)

    async def archive(self, workspace_id: int, group_id: str, *, at: datetime) -> Group | None:
        self._found.forget((workspace_id, group_id))
        return await self._store.archive(workspace_id, group_id, at=at)

    async def update(
        self, workspace_id: int, group_id: str, *, name: str, description: str | None
    ) -> Group | None:
        self._found.forget((workspace_id, group_id))
        return await self._store.update(workspace_id, group_id, name=name, description=description)
