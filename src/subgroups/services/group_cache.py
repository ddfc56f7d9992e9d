"""A short-lived memory of the groups that exist, so the set endpoints skip a database read.

Only groups that were found are remembered, so a group created a moment ago is seen at once.
What a set request uses of a group (its key, channel and archival) changes only by archiving,
and archival is enforced again inside the write transaction (SubscriptionStore.apply), so a stale
entry can at worst let a request reach that check instead of being refused one step earlier.
Archiving or renaming through this process forgets the group at once.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime

from subgroups.domain.models import Channel, Group
from subgroups.services.ports import GroupStore

# Bounded so that a flood of distinct (valid) group ids cannot grow the process without limit.
MAX_ENTRIES = 10_000


class CachedGroupStore:
    """A GroupStore that remembers `find` results for `seconds`; 0 turns the memory off."""

    def __init__(self, store: GroupStore, *, seconds: float) -> None:
        self._store = store
        self._seconds = seconds
        self._found: dict[tuple[int, str], tuple[float, Group]] = {}

    async def find(self, workspace_id: int, group_ids: Collection[str]) -> dict[str, Group]:
        now = time.monotonic()
        hits: dict[str, Group] = {}
        for gid in group_ids:
            entry = self._found.get((workspace_id, gid))
            if entry is None or entry[0] <= now:
                break
            hits[gid] = entry[1]
        else:
            return hits
        found = await self._store.find(workspace_id, group_ids)
        if self._seconds > 0:
            if len(self._found) >= MAX_ENTRIES:
                self._found.clear()
            expires = now + self._seconds
            for gid, group in found.items():
                self._found[(workspace_id, gid)] = (expires, group)
        return found

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
        self._found.pop((workspace_id, group_id), None)
        return await self._store.archive(workspace_id, group_id, at=at)

    async def update(
        self, workspace_id: int, group_id: str, *, name: str, description: str | None
    ) -> Group | None:
        self._found.pop((workspace_id, group_id), None)
        return await self._store.update(workspace_id, group_id, name=name, description=description)
