"""Import jobs: their rows, kept files and error rows, on SQLAlchemy Core for both backends.

Applying a batch is each backend's own (`sqlite_imports.py`, `postgres_imports.py`): it runs on
the backend's write path, and writes the batch's progress (`PROGRESS`) and error rows
(`ERROR_COLUMNS`) in the same transaction as its changes.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from subgroups.domain.imports import (
    ImportCounts,
    ImportJob,
    ImportQueue,
    ImportRow,
    ImportStatus,
    RowError,
)
from subgroups.storage.engine import Database
from subgroups.storage.tables import import_errors, import_files, imports

COUNTERS: Final = tuple(f.name for f in fields(ImportCounts))
# The size of the parts a kept file is stored in (see tables.import_files).
FILE_PART: Final = 1 << 20
ERROR_COLUMNS: Final = ("workspace_id", "import_id", "line", "column_name", "value", "message")
# The progress of one batch: each counter advances, the lease is renewed, and the run counts as
# one that works (attempts start again from naught); nothing happens unless the job is still
# running and still this owner's. Parameters: the counters' steps in COUNTERS' order, then the
# time, the workspace, the import and the owner.
PROGRESS: Final = (
    "UPDATE imports SET "
    + ", ".join(f"{c} = {c} + {{}}" for c in COUNTERS)
    + ", attempts = 0, heartbeat_at = {} WHERE workspace_id = {} AND id = {} AND owner = {}"
    " AND status = 'running'"
)


def steps(counts: ImportCounts) -> list[int]:
    return [getattr(counts, c) for c in COUNTERS]


def error_values(workspace_id: int, import_id: str, e: RowError) -> tuple[object, ...]:
    return (workspace_id, import_id, e.line, e.column, e.value, e.message)


class SqlImportJobs(abc.ABC):
    """Everything of the ImportStore port but applying a batch's rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        workspace_id: int,
        import_id: str,
        file_name: str,
        sha256: str,
        size: int,
        total_rows: int,
        dry_run: bool,
        ignored_columns: Sequence[str],
        owner: str | None,
        content: bytes | bytearray | None,
        at: datetime,
    ) -> ImportJob:
        values: dict[str, Any] = {
            "workspace_id": workspace_id,
            "id": import_id,
            "file_name": file_name[:255],
            "sha256": sha256,
            "size": size,
            "dry_run": dry_run,
            "status": ImportStatus.QUEUED if owner is None else ImportStatus.RUNNING,
            "total_rows": total_rows,
            **dict.fromkeys(COUNTERS, 0),
            "failure": None,
            "ignored_columns": json.dumps(list(ignored_columns)),
            "owner": owner,
            "heartbeat_at": None if owner is None else at,
            "attempts": 0 if owner is None else 1,
            "created_at": at,
            "finished_at": None,
        }

        def insert(conn: Connection) -> None:
            conn.execute(imports.insert().values(values))
            if content is None:
                return
            # One statement per part, each given a view of its slice: the driver copies a part
            # at a time, never the whole file.
            whole = memoryview(content)
            for part, start in enumerate(range(0, max(len(whole), 1), FILE_PART)):
                conn.execute(
                    import_files.insert().values(
                        workspace_id=workspace_id,
                        import_id=import_id,
                        part=part,
                        content=whole[start : start + FILE_PART],
                    )
                )

        await self._db.write(insert)
        return _job(values)

    async def get(self, workspace_id: int, import_id: str) -> ImportJob | None:
        return await self._one(
            and_(imports.c.workspace_id == workspace_id, imports.c.id == import_id)
        )

    async def resumable(self, workspace_id: int, sha256: str) -> ImportJob | None:
        return await self._one(
            and_(
                imports.c.workspace_id == workspace_id,
                imports.c.sha256 == sha256,
                imports.c.status.in_([ImportStatus.QUEUED, ImportStatus.RUNNING]),
                imports.c.dry_run.is_(False),
            )
        )

    async def recent(self, workspace_id: int, *, limit: int) -> list[ImportJob]:
        query = (
            select(imports)
            .where(imports.c.workspace_id == workspace_id)
            .order_by(imports.c.created_at.desc())
            .limit(limit)
        )
        async with self._db.snapshot() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_job(row) for row in rows]

    async def queue(self) -> ImportQueue:
        query = (
            select(
                imports.c.status,
                func.count(),
                func.coalesce(func.sum(imports.c.rows), 0),
                func.coalesce(func.sum(imports.c.total_rows), 0),
            )
            .where(imports.c.status.in_([ImportStatus.QUEUED, ImportStatus.RUNNING]))
            .group_by(imports.c.status)
        )
        async with self._db.snapshot() as conn:
            found = {
                status: (n, done, total) for status, n, done, total in await conn.execute(query)
            }
        queued = found.get(ImportStatus.QUEUED, (0, 0, 0))[0]
        running, done, total = found.get(ImportStatus.RUNNING, (0, 0, 0))
        return ImportQueue(int(queued), int(running), int(done), int(total))

    async def _one(self, where: Any) -> ImportJob | None:
        query = select(imports).where(where).order_by(imports.c.created_at.desc()).limit(1)
        async with self._db.snapshot() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _job(row)

    async def claim(
        self, workspace_id: int, import_id: str, *, owner: str, at: datetime, stale_before: datetime
    ) -> bool:
        claim = (
            update(imports)
            .where(
                imports.c.workspace_id == workspace_id,
                imports.c.id == import_id,
                _claimable(stale_before),
            )
            .values(
                owner=owner,
                heartbeat_at=at,
                status=ImportStatus.RUNNING,
                attempts=imports.c.attempts + 1,
            )
        )
        claimed: bool = await self._db.write(lambda conn: conn.execute(claim).rowcount == 1)
        return claimed

    async def release(self, workspace_id: int, import_id: str, *, owner: str) -> bool:
        # Guarded as a batch's progress is: only the owner of a job that still runs lets it go.
        release = (
            update(imports)
            .where(
                imports.c.workspace_id == workspace_id,
                imports.c.id == import_id,
                imports.c.owner == owner,
                imports.c.status == ImportStatus.RUNNING,
            )
            .values(owner=None, heartbeat_at=None, status=ImportStatus.QUEUED)
        )
        released: bool = await self._db.write(lambda conn: conn.execute(release).rowcount == 1)
        return released

    async def claim_next(
        self, *, owner: str, at: datetime, stale_before: datetime
    ) -> ImportJob | None:
        candidates = (
            select(imports.c.workspace_id, imports.c.id)
            .join(
                import_files,
                and_(
                    import_files.c.workspace_id == imports.c.workspace_id,
                    import_files.c.import_id == imports.c.id,
                    import_files.c.part == 0,
                ),
            )
            .where(_claimable(stale_before))
            .order_by(imports.c.created_at)
            .limit(5)
        )
        async with self._db.snapshot() as conn:
            found = (await conn.execute(candidates)).all()
        for workspace_id, import_id in found:
            if await self.claim(
                workspace_id, import_id, owner=owner, at=at, stale_before=stale_before
            ):
                return await self.get(workspace_id, import_id)
        return None

    async def content(self, workspace_id: int, import_id: str) -> bytearray | None:
        query = (
            select(import_files.c.content)
            .where(
                import_files.c.workspace_id == workspace_id,
                import_files.c.import_id == import_id,
            )
            .order_by(import_files.c.part)
            .execution_options(yield_per=1)
        )
        # Part after part into one buffer: the file is held once, plus the part being read.
        content: bytearray | None = None
        async with self._db.snapshot() as conn:
            async for (part,) in await conn.stream(query):
                content = bytearray() if content is None else content
                content += part
        return content

    async def finish(
        self,
        workspace_id: int,
        import_id: str,
        *,
        owner: str,
        status: ImportStatus,
        failure: str | None,
        at: datetime,
    ) -> None:
        def end(conn: Connection) -> None:
            ended = conn.execute(
                update(imports)
                .where(
                    imports.c.workspace_id == workspace_id,
                    imports.c.id == import_id,
                    imports.c.owner == owner,
                )
                .values(status=status, failure=failure, finished_at=at, heartbeat_at=at)
            )
            if ended.rowcount != 1:
                return
            conn.execute(
                delete(import_files).where(
                    import_files.c.workspace_id == workspace_id,
                    import_files.c.import_id == import_id,
                )
            )

        await self._db.write(end)

    async def errors(self, workspace_id: int, import_id: str) -> AsyncIterator[RowError]:
        query = (
            select(
                import_errors.c.line,
                import_errors.c.column_name,
                import_errors.c.value,
                import_errors.c.message,
            )
            .where(
                import_errors.c.workspace_id == workspace_id,
                import_errors.c.import_id == import_id,
            )
            .order_by(import_errors.c.line)
            .execution_options(yield_per=1000)
        )
        async with self._db.snapshot() as conn:
            async for line, column, value, message in await conn.stream(query):
                yield RowError(line, column, value, message)

    @abc.abstractmethod
    async def apply(
        self,
        *,
        workspace_id: int,
        import_id: str,
        owner: str,
        rows: Sequence[ImportRow],
        invalid: Sequence[RowError],
        at: datetime,
        dry_run: bool,
        created_before: set[str] | None = None,
    ) -> ImportCounts: ...


def _claimable(stale_before: datetime) -> Any:
    return and_(
        imports.c.status.in_([ImportStatus.QUEUED, ImportStatus.RUNNING]),
        or_(imports.c.heartbeat_at.is_(None), imports.c.heartbeat_at < stale_before),
    )


def _job(row: Mapping[Any, Any]) -> ImportJob:
    return ImportJob(
        id=row["id"],
        workspace_id=row["workspace_id"],
        file_name=row["file_name"],
        sha256=row["sha256"],
        size=row["size"],
        dry_run=bool(row["dry_run"]),
        status=ImportStatus(row["status"]),
        total_rows=row["total_rows"],
        counts=ImportCounts(**{c: row[c] for c in COUNTERS}),
        failure=row["failure"],
        ignored_columns=tuple(json.loads(row["ignored_columns"])),
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        attempts=row["attempts"],
    )
