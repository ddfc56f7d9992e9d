"""Exports (§10): a workspace's states, now or as they stood at a moment, and its records, as
CSV or NDJSON text, streamed from the store's cursor a chunk of lines at a time (a few thousand
lines to a string: per line, a string and a write would cost more than the line)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

import orjson

from subgroups.domain.exports import STATE_COLUMNS, ExportFormat
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
_NEWLINE: Final = orjson.OPT_APPEND_NEWLINE


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
        return _text(STATE_COLUMNS, lines, fmt)

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
        return _text(CHANGE_COLUMNS, _chunks_of_changes(records), fmt)

    async def _check(self, workspace_id: int, group_id: str | None) -> None:
        if await self._workspaces.get(workspace_id) is None:
            raise InvalidRequest(f"There is no workspace {workspace_id}")
        if group_id is not None and not await self._groups.find(workspace_id, [group_id]):
            raise InvalidRequest("Invalid subscription group ID")


_CHANGES_CHUNK: Final = 2000


async def _chunks_of_changes(
    records: AsyncIterator[StateChange],
) -> AsyncIterator[list[tuple[object, ...]]]:
    chunk: list[tuple[object, ...]] = []
    async for record in records:
        chunk.append(tuple(record_document(record).values()))
        if len(chunk) == _CHANGES_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _text(
    columns: Iterable[str],
    chunks: AsyncIterator[Sequence[Sequence[object]]],
    fmt: ExportFormat,
) -> AsyncIterator[str]:
    names = tuple(columns)
    if fmt is ExportFormat.NDJSON:
        async for rows in chunks:
            yield b"".join(
                orjson.dumps(dict(zip(names, cells, strict=True)), option=_NEWLINE)
                for cells in rows
            ).decode()
        return
    csv = CsvLines(names)
    yield csv.header()
    async for rows in chunks:
        yield csv.lines(rows)
