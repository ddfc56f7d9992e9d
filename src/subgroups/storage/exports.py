"""Exports, streamed (§10): each read goes through a cursor a few thousand rows at a time, inside
one snapshot, so memory stays flat at any size and the export is consistent while writes go on.

The states are read on each backend's own driver, the records through SQLAlchemy. The states
as they stood at a moment come from the records (§7), not from the states: for each profile and
group, the newest record at or before that moment, with the profile's current identifiers.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Final

from sqlalchemy import select

from subgroups.domain.exports import StateCells
from subgroups.domain.models import Source, StateChange
from subgroups.storage.change_records import change_from_row
from subgroups.storage.engine import Database
from subgroups.storage.tables import state_changes

CHUNK: Final = 2000
# The cells come out of the database as the export's text (a state's name, an ISO 8601 time), so
# that a line costs this process no conversion. Parameters: the workspace, then the group's
# public id or NULL for every group; `{time}` is the backend's expression of a stored time as
# ISO 8601 UTC with microseconds, applied to `{column}`.
STATES: Final = """
SELECT p.external_id, p.email, p.phone, g.id,
    CASE WHEN s.subscribed THEN 'subscribed' ELSE 'unsubscribed' END, {updated_at}
FROM subscription_states AS s
JOIN profiles AS p ON p.id = s.profile_id
JOIN subscription_groups AS g ON g.pk = s.group_pk
WHERE g.workspace_id = {0} AND ({1} IS NULL OR g.id = {1})
ORDER BY s.profile_id, s.group_pk
"""
# Parameters: the workspace, the group or NULL, the moment.
STATES_AS_OF: Final = """
SELECT p.external_id, p.email, p.phone, n.subscription_group_id, n.new_state, {occurred_at}
FROM (
    SELECT profile_id, subscription_group_id, new_state, occurred_at,
        row_number() OVER (
            PARTITION BY profile_id, subscription_group_id ORDER BY id DESC
        ) AS newest
    FROM state_changes
    WHERE workspace_id = {0} AND ({1} IS NULL OR subscription_group_id = {1})
        AND occurred_at <= {2}
) AS n
JOIN profiles AS p ON p.id = n.profile_id
JOIN subscription_groups AS g ON g.workspace_id = {0} AND g.id = n.subscription_group_id
WHERE n.newest = 1
ORDER BY n.profile_id, g.pk
"""


def state_queries(iso: str, *marks: str) -> tuple[str, str]:
    """STATES and STATES_AS_OF in a backend's words: `iso`, its ISO 8601 expression of a stored
    time (`{}` for the column), and its parameter marks."""
    return (
        STATES.format(*marks[:2], updated_at=iso.format("s.updated_at")),
        STATES_AS_OF.format(*marks, occurred_at=iso.format("n.occurred_at")),
    )


class SqlExportReader(abc.ABC):
    def __init__(self, db: Database) -> None:
        self._db = db

    @abc.abstractmethod
    def states(
        self, workspace_id: int, group_id: str | None
    ) -> AsyncIterator[list[StateCells]]: ...

    @abc.abstractmethod
    def states_as_of(
        self, workspace_id: int, group_id: str | None, at: datetime
    ) -> AsyncIterator[list[StateCells]]: ...

    async def changes(
        self,
        workspace_id: int,
        *,
        group_id: str | None,
        since: datetime | None,
        until: datetime | None,
        source: Source | None,
    ) -> AsyncIterator[StateChange]:
        r = state_changes
        query = select(r).where(r.c.workspace_id == workspace_id).order_by(r.c.id)
        if group_id is not None:
            query = query.where(r.c.subscription_group_id == group_id)
        if since is not None:
            query = query.where(r.c.occurred_at >= since)
        if until is not None:
            query = query.where(r.c.occurred_at < until)
        if source is not None:
            query = query.where(r.c.source == source.value)
        async with self._db.snapshot() as conn:
            result = await conn.stream(query.execution_options(yield_per=CHUNK))
            async for row in result.mappings():
                yield change_from_row(row)
