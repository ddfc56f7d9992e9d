"""CSV imports (§10): checking a file, running it batch by batch, resuming it after a crash.

A job is run by one process at a time (its owner, with a lease it renews at every batch). The CLI
runs its import in its own process; an import sent over HTTP or from the dashboard keeps its
file with the job and is run by the background loop of `subgroups serve` or `subgroups worker`
(`run_next`). Whoever runs a job reads the file from the row after the last committed batch.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING, BinaryIO, Final

from subgroups.domain.imports import (
    ImportCounts,
    ImportJob,
    ImportQueue,
    ImportRow,
    ImportStatus,
    RowError,
    plan_row,
    refusal,
)
from subgroups.domain.models import Group, State
from subgroups.domain.subscriptions import Assignment
from subgroups.errors import (
    Conflict,
    DatabaseUnavailable,
    GroupArchived,
    InvalidRequest,
    LeaseLost,
    NotFound,
)
from subgroups.services.import_files import FileSummary, buffer_stream, check_file, read_rows
from subgroups.services.ports import Clock, GroupStore, ImportStore, WorkspaceStore

if TYPE_CHECKING:
    from subgroups.services.person import PersonService

BATCH_ROWS: Final = 2000
# How many times in a row a background run may end in an error of the service (not of the file)
# before a batch is written: a job past it is ended as failed instead of being tried again.
MAX_ATTEMPTS: Final = 3
Progress = Callable[[ImportJob, ImportCounts], None]
_Item = tuple[int, dict[str, str]] | RowError
_Rows = Iterator[_Item]


class RunPaused(Exception):
    """Raised by a `progress` callback of `run_next` to stop the run after the batch just
    written (a shutdown): the job's lease is let go, so the next process resumes it at once."""

    def __init__(self, import_id: str) -> None:
        super().__init__(import_id)
        self.import_id = import_id


class ImportGivenUp(Exception):
    """A background run failed MAX_ATTEMPTS times in a row: the job is now ended as failed.
    The last error, when this process saw it, is the `__cause__`."""

    def __init__(self, job: ImportJob) -> None:
        super().__init__(job.id)
        self.job = job


def given_up_reason(attempts: int) -> str:
    return (
        f"The import was stopped {attempts} times in a row by an error of the service, not of"
        " the file, before it could write another batch, and was given up; the server's log"
        " has the errors. Send the file again to retry it."
    )


def new_owner() -> str:
    """A name for this process's run of a job, unique across hosts and restarts."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class ImportService:
    def __init__(
        self,
        *,
        store: ImportStore,
        groups: GroupStore,
        workspaces: WorkspaceStore,
        clock: Clock,
        lease_seconds: float,
        batch_rows: int = BATCH_ROWS,
        max_attempts: int = MAX_ATTEMPTS,
        person: PersonService | None = None,
    ) -> None:
        """`person`: consulted so that an import never resubscribes an erased person's address
        without consent given after the erasure (§11)."""
        self._person = person
        self._max_attempts = max_attempts
        self._store = store
        self._groups = groups
        self._workspaces = workspaces
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._batch_rows = batch_rows

    async def open(
        self, *, workspace_id: int, file_name: str, stream: BinaryIO, dry_run: bool, owner: str
    ) -> ImportJob:
        """Checks the whole file, then claims the unfinished import of the same file (a run that
        stopped) or starts a new one, run by `owner`. Raises InvalidRequest for a file that
        cannot be imported, Conflict while another process still runs the same file."""
        await self._workspace(workspace_id)
        summary = await asyncio.to_thread(check_file, stream)
        if not dry_run:
            unfinished = await self._store.resumable(workspace_id, summary.sha256)
            if unfinished is not None:
                return await self._claim(unfinished, owner)
        return await self._create(workspace_id, file_name, summary, dry_run, owner, None)

    async def submit(
        self, *, workspace_id: int, file_name: str, content: bytes | bytearray, dry_run: bool
    ) -> ImportJob:
        """Queues an import whose file is kept with it, for a background worker to run. The file
        is checked and stored from `content` itself, never copied whole."""
        await self._workspace(workspace_id)
        with buffer_stream(content) as stream:
            summary = await asyncio.to_thread(check_file, stream)
        return await self._create(workspace_id, file_name, summary, dry_run, None, content)

    async def get(self, *, workspace_id: int, import_id: str) -> ImportJob:
        # An id that no import can have (ids are UUIDs) is not looked up: PostgreSQL refuses
        # some text outright (a NUL), and a URL can carry anything.
        job = await self._store.get(workspace_id, import_id) if _is_id(import_id) else None
        if job is None:
            raise NotFound(f"There is no import {import_id} in this workspace")
        return job

    async def recent(self, *, workspace_id: int, limit: int = 50) -> list[ImportJob]:
        """The workspace's latest imports, newest first."""
        return await self._store.recent(workspace_id, limit=limit)

    async def queue(self) -> ImportQueue:
        """The imports queued or running, in every workspace (for /metrics)."""
        return await self._store.queue()

    def errors(self, *, workspace_id: int, import_id: str) -> AsyncIterator[RowError]:
        return self._store.errors(workspace_id, import_id)

    async def run(
        self, job: ImportJob, *, owner: str, stream: BinaryIO, progress: Progress | None = None
    ) -> ImportJob:
        """Applies the file from the row after the job's last committed batch to its end, then
        ends the job. A failure ends it as failed, with the reason, and is raised again."""
        try:
            await self._apply_all(job, owner, stream, progress)
        except LeaseLost:
            raise  # the job is another process's now: nothing of it is ours to end
        except (InvalidRequest, Conflict) as error:
            await self._end(job, owner, ImportStatus.FAILED, error.message)
            raise
        await self._end(job, owner, ImportStatus.FINISHED, None)
        return await self.get(workspace_id=job.workspace_id, import_id=job.id)

    async def run_next(self, *, owner: str, progress: Progress | None = None) -> ImportJob | None:
        """Claims and runs one queued (or abandoned) import whose file is kept with it; None
        when there is none. `progress` is called after each batch; RunPaused raised there stops
        the run and lets the job go (raised again), any other exception stops the run and
        leaves the job to be resumed once its lease has lapsed. Raises ImportGivenUp when the
        job has now failed MAX_ATTEMPTS times in a row (see `_give_up`)."""
        now = self._clock.now()
        job = await self._store.claim_next(owner=owner, at=now, stale_before=now - self._lease)
        if job is None:
            return None
        if job.attempts > self._max_attempts:
            # Its runners died (a crash of the process, not an exception) without a batch.
            raise ImportGivenUp(await self._give_up(job, owner, job.attempts - 1))
        content = await self._store.content(job.workspace_id, job.id)
        if content is None:  # finished by its previous owner at the last moment
            return job
        try:
            with buffer_stream(content) as stream:
                return await self.run(job, owner=owner, stream=stream, progress=progress)
        except InvalidRequest:
            return await self.get(workspace_id=job.workspace_id, import_id=job.id)
        except RunPaused:
            await self._store.release(job.workspace_id, job.id, owner=owner)
            raise
        except (Conflict, DatabaseUnavailable):
            # Not the job's doing (another process has it, or the database is away), or already
            # ended as failed by `run`.
            raise
        except Exception as error:
            # Read again: a batch this run wrote before the error started the count again.
            attempts = (await self.get(workspace_id=job.workspace_id, import_id=job.id)).attempts
            if attempts < self._max_attempts:
                raise  # tried again once its lease has lapsed
            raise ImportGivenUp(await self._give_up(job, owner, attempts)) from error

    async def _give_up(self, job: ImportJob, owner: str, attempts: int) -> ImportJob:
        await self._end(job, owner, ImportStatus.FAILED, given_up_reason(attempts))
        return await self.get(workspace_id=job.workspace_id, import_id=job.id)

    async def _workspace(self, workspace_id: int) -> None:
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"There is no workspace {workspace_id}")

    async def _claim(self, job: ImportJob, owner: str) -> ImportJob:
        now = self._clock.now()
        claimed = await self._store.claim(
            job.workspace_id, job.id, owner=owner, at=now, stale_before=now - self._lease
        )
        if not claimed:
            raise Conflict(
                f"Import {job.id} of this file is still running in another process; run this"
                " again once it has stopped for a while, to resume it"
            )
        return job

    async def _create(
        self,
        workspace_id: int,
        file_name: str,
        summary: FileSummary,
        dry_run: bool,
        owner: str | None,
        content: bytes | bytearray | None,
    ) -> ImportJob:
        return await self._store.create(
            workspace_id=workspace_id,
            import_id=str(uuid.uuid4()),
            file_name=file_name,
            sha256=summary.sha256,
            size=summary.size,
            total_rows=summary.rows,
            dry_run=dry_run,
            ignored_columns=summary.ignored,
            owner=owner,
            content=content,
            at=self._clock.now(),
        )

    async def _apply_all(
        self, job: ImportJob, owner: str, stream: BinaryIO, progress: Progress | None
    ) -> None:
        done = job.counts
        rows = read_rows(stream, skip=done.rows)
        created_before: set[str] | None = set() if job.dry_run else None
        # The next batch is read and checked while this one is written: on PostgreSQL the
        # server writes while this process checks, on SQLite the writer thread's statements run
        # without the interpreter lock. Batches are still written one at a time, in file order.
        coming = asyncio.ensure_future(self._prepare(job, rows))
        try:
            while (prepared := await coming).batch:
                coming = asyncio.ensure_future(self._prepare(job, rows))
                done += await self._apply_batch(job, owner, prepared, created_before)
                if progress is not None:
                    progress(job, done)
        finally:
            # Stopped early (a failure, a lost lease): the batch read ahead is not applied.
            coming.cancel()
            await asyncio.wait([coming])
            if not coming.cancelled():
                coming.exception()  # retrieved: it is not the error to report

    async def _prepare(self, job: ImportJob, rows: _Rows) -> _Prepared:
        """The next batch of the file, checked: its valid rows and its invalid ones."""
        batch = await asyncio.to_thread(_take, rows, self._batch_rows)
        if not batch:
            return _Prepared(batch, {}, [], [])
        wanted = {
            cells["subscription_group_id"]
            for item in batch
            if not isinstance(item, RowError) and "subscription_group_id" in (cells := item[1])
        }
        groups = await self._groups.find(job.workspace_id, wanted)
        valid, invalid = await self._checked(job, batch, groups)
        return _Prepared(batch, groups, valid, invalid)

    async def _checked(
        self, job: ImportJob, batch: list[_Item], groups: dict[str, Group]
    ) -> tuple[list[ImportRow], list[RowError]]:
        valid, invalid = await asyncio.to_thread(self._plan, batch, groups)
        return await self._without_erased(job.workspace_id, valid, invalid)

    async def _apply_batch(
        self,
        job: ImportJob,
        owner: str,
        prepared: _Prepared,
        created_before: set[str] | None,
    ) -> ImportCounts:
        groups, valid, invalid = prepared.groups, prepared.valid, prepared.invalid
        while True:
            try:
                return await self._store.apply(
                    workspace_id=job.workspace_id,
                    import_id=job.id,
                    owner=owner,
                    rows=valid,
                    invalid=invalid,
                    at=self._clock.now(),
                    dry_run=job.dry_run,
                    created_before=created_before,
                )
            except GroupArchived as archived:
                # Archived since it was read: its rows become invalid, with the API's message.
                group = groups[archived.group_id]
                groups = {**groups, group.id: replace(group, archived_at=self._clock.now())}
                valid, invalid = await self._checked(job, prepared.batch, groups)

    async def _without_erased(
        self, workspace_id: int, valid: list[ImportRow], invalid: list[RowError]
    ) -> tuple[list[ImportRow], list[RowError]]:
        """The rows that would subscribe the address of an erased person who had left the group,
        without later consent, moved to the refused ones."""
        if self._person is None:
            return valid, invalid
        subscribing = [
            (row, contact)
            for row in valid
            if row.assignment.state is State.SUBSCRIBED
            and (contact := _contact(row.assignment)) is not None
        ]
        if not subscribing:
            return valid, invalid
        found = await self._person.refusing_entries(
            workspace_id,
            [
                (
                    row.assignment.group.id,
                    row.assignment.contact_column,
                    contact,
                    row.assignment.consented_at,
                )
                for row, contact in subscribing
            ],
        )
        refused = {
            row.line: refusal(row.line, State.SUBSCRIBED.value, entry.erased_at)
            for (row, _), entry in zip(subscribing, found, strict=True)
            if entry is not None
        }
        if not refused:
            return valid, invalid
        kept = [row for row in valid if row.line not in refused]
        return kept, sorted([*invalid, *refused.values()], key=lambda e: e.line)

    def _plan(
        self, batch: list[_Item], groups: dict[str, Group]
    ) -> tuple[list[ImportRow], list[RowError]]:
        now = self._clock.now()
        valid: list[ImportRow] = []
        invalid: list[RowError] = []
        for item in batch:
            planned = item if isinstance(item, RowError) else plan_row(*item, groups, now=now)
            if isinstance(planned, RowError):
                invalid.append(planned)
            else:
                valid.append(planned)
        return valid, invalid

    async def _end(
        self, job: ImportJob, owner: str, status: ImportStatus, failure: str | None
    ) -> None:
        await self._store.finish(
            job.workspace_id,
            job.id,
            owner=owner,
            status=status,
            failure=failure,
            at=self._clock.now(),
        )


def _contact(a: Assignment) -> str | None:
    """The email or phone a row subscribes: the one it selects by, or records."""
    if a.contacts:
        return a.contacts[0]
    return a.contact_to_record


def _is_id(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A batch of the file: its items as read, the groups they name, and the rows checked."""

    batch: list[_Item]
    groups: dict[str, Group]
    valid: list[ImportRow]
    invalid: list[RowError]


def _take(rows: _Rows, count: int) -> list[_Item]:
    return list(islice(rows, count))
