"""status/get and user/status as of a moment (§10, `as_of`): the same checks and answers as the
live reads (`status.py`), from the records as they stood then."""

from __future__ import annotations

from datetime import datetime

from subgroups.domain.reads import Identifiers, StatusLabel, UserPage
from subgroups.services.ports import GroupStore, HistoryReader
from subgroups.services.status import checked_lookup, checked_page, labelled


class HistoryService:
    def __init__(self, *, groups: GroupStore, reader: HistoryReader) -> None:
        self._groups = groups
        self._reader = reader

    async def statuses(
        self, *, workspace_id: int, group_id: str | None, identifiers: Identifiers, at: datetime
    ) -> dict[str, StatusLabel]:
        lookup = await checked_lookup(self._groups, workspace_id, group_id, identifiers)
        if lookup is None:
            return {}
        group, kind, sent = lookup
        states = await self._reader.states(workspace_id, group.id, kind, set(sent.values()), at=at)
        return labelled(sent, states)

    async def user_statuses(
        self,
        *,
        workspace_id: int,
        identifiers: Identifiers,
        at: datetime,
        limit: int | None = None,
        offset: int | None = None,
    ) -> UserPage:
        page = checked_page(identifiers, limit, offset)
        return await self._reader.user_statuses(
            workspace_id, page.kind, page.values, at=at, limit=page.limit, offset=page.offset
        )
