"""The pull feed of state changes (contract §9)."""

from __future__ import annotations

from subgroups.domain.feed import FeedPage, feed_bounds, page_of
from subgroups.services.ports import ChangeFeed


class FeedService:
    def __init__(self, *, feed: ChangeFeed) -> None:
        self._feed = feed

    async def page(self, *, workspace_id: int, after: int | None, limit: int | None) -> FeedPage:
        """The workspace's records after `after`, ascending, that a reader looping on
        `next_after` may see now without ever missing one that commits later."""
        after, limit = feed_bounds(after, limit)
        found = await self._feed.changes(workspace_id, after=after, limit=limit + 1)
        return page_of(found, after=after, limit=limit)
