"""Exports (§10): a workspace's states, now or as they stood at a moment, and its records, as
CSV or NDJSON text, streamed a line at a time from the store's cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

import orjson

from subgroups.domain.exports import STATE_COLUMNS, ExportFormat, StateLine
from subgroups.domain.feed import record_document
from subgroups.domain.models import Source, State, StateChange
from subgroups.errors import InvalidRequest
from subgroups.services.csv_text import CsvLines
from subgroups.services.ports import ExportReader, GroupStore, WorkspaceStore

# The §7 fields as the change feed shows them (the names of any record's document).
_ANY_RECORD = StateChange(
    id=0,
    workspace_id=0,
    profile_id=0,
    external_id=None,
    email=None,
    phone=None,
    subscription_group_id="",
    channel="email",
    old_state=None,
    new_state=State.SUBSCRIBED,
    occurred_at=datetime(2000, 1, 1, tzinfo=UTC),
    source=Source.CLI,
    api_key_id=None,
    request_id=None,
    client_ip=None,
)
CHANGE_COLUMNS = tuple(record_document(_ANY_RECORD))


class ExportService:
    def __init__(
        self, *, reader: ExportReader, groups: GroupStore, workspaces: WorkspaceStore
    ) -> None:
        self._reader = reader
        self._groups = groups
        self._workspaces = workspaces

    async def states(
        self,
        *,
        workspace_id: int,
        group_id: str | None,
        as_of: datetime | None,
        fmt: ExportFormat,
    ) -> AsyncIterator[str]:
        """Checks the request (raising before the first line), then the lines."""
        await self._check(workspace_id, group_id)
        if as_of is None:
            lines = self._reader.states(workspace_id, group_id)
        else:
            lines = self._reader.states_as_of(workspace_id, group_id, as_of)
        return _text(STATE_COLUMNS, _cells_of_states(lines), fmt)

    async def changes(
        self,
        *,
        workspace_id: int,
        group_id: str | None,
        since: datetime | None,
        until: datetime | None,
        source: Source | None,
        fmt: ExportFormat,
    ) -> AsyncIterator[str]:
        await self._check(workspace_id, group_id)
        records = self._reader.changes(
            workspace_id, group_id=group_id, since=since, until=until, source=source
        )
        return _text(CHANGE_COLUMNS, _cells_of_changes(records), fmt)

    async def _check(self, workspace_id: int, group_id: str | None) -> None:
        if await self._workspaces.get(workspace_id) is None:
            raise InvalidRequest(f"There is no workspace {workspace_id}")
        if group_id is not None and not await self._groups.find(workspace_id, [group_id]):
            raise InvalidRequest("Invalid subscription group ID")


async def _cells_of_states(lines: AsyncIterator[StateLine]) -> AsyncIterator[tuple[object, ...]]:
    async for line in lines:
        yield line.cells()


async def _cells_of_changes(
    records: AsyncIterator[StateChange],
) -> AsyncIterator[tuple[object, ...]]:
    async for record in records:
        yield tuple(record_document(record).values())


async def _text(
    columns: Iterable[str], rows: AsyncIterator[tuple[object, ...]], fmt: ExportFormat
) -> AsyncIterator[str]:
    names = tuple(columns)
    if fmt is ExportFormat.NDJSON:
        async for cells in rows:
            yield orjson.dumps(dict(zip(names, cells, strict=True))).decode() + "\n"
        return
    csv = CsvLines(names)
    yield csv.header()
    async for cells in rows:
        yield csv.line(cells)
