"""The background import loop: runs the imports sent over HTTP or from the dashboard (§10).

`subgroups serve` and `subgroups worker` each run one. A job is run by one process at a time (the
lease of `ImportService`), so any number of loops share the queue. One job's failure never ends
the loop: a file the import refuses is the sender's problem (logged as a warning and kept in the
job's `failure`); anything else is logged as an error, and the job, left with its lease, is resumed
once the lease has lapsed, until it has failed MAX_ATTEMPTS times in a row and is given up. On
shutdown the run in progress stops after the batch it is writing and lets its lease go, so the
next loop to look for work resumes it, after its last committed batch, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from subgroups.domain.imports import ImportCounts, ImportJob, ImportStatus
from subgroups.errors import Conflict, DatabaseUnavailable, LeaseLost
from subgroups.services.imports import ImportGivenUp, Progress, RunPaused, new_owner

log = logging.getLogger("subgroups.imports")


class QueuedImports(Protocol):
    """What the loop needs of `ImportService`."""

    async def run_next(
        self, *, owner: str, progress: Progress | None = None
    ) -> ImportJob | None: ...


class ImportLoop:
    def __init__(self, *, imports: QueuedImports, poll_seconds: float) -> None:
        self._imports = imports
        self._poll_seconds = poll_seconds
        # Unique per process and start: a restarted process does not inherit its old leases.
        self.owner = new_owner()

    async def run(self, stop: asyncio.Event) -> None:
        """Runs queued imports one after another until `stop` is set; polls while none waits."""
        while not stop.is_set():
            if await self.run_one(stop):
                continue  # another may be waiting already
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_seconds)

    async def run_one(self, stop: asyncio.Event | None = None) -> bool:
        """Runs one waiting import, if there is one; True when one was run to its end."""

        def progress(job: ImportJob, _counts: ImportCounts) -> None:
            if stop is not None and stop.is_set():
                raise RunPaused(job.id)

        try:
            job = await self._imports.run_next(owner=self.owner, progress=progress)
        except RunPaused as paused:
            log.info(
                "import %s paused for shutdown; the next process to look for work resumes it",
                paused.import_id,
            )
            return False
        except ImportGivenUp as given_up:
            log.error(
                "import %s given up: %s",
                given_up.job.id,
                given_up.job.failure,
                exc_info=given_up.__cause__,
                extra={"workspace_id": given_up.job.workspace_id},
            )
            return True
        except (LeaseLost, Conflict) as error:
            # Another process took the job over (this one stalled past its lease): the job is theirs.
            log.warning("import run given up: %s", error.message)
            return True
        except DatabaseUnavailable as error:
            # The driver's words say it all; a traceback would add nothing.
            log.error("import run stopped, the database is unavailable: %s", error.detail)
            return False
        except Exception:  # a bug: the job is tried again once its lease has lapsed
            log.exception("import run failed; the import resumes once its lease has lapsed")
            return False
        if job is None:
            return False
        _report(job)
        return True


def _report(job: ImportJob) -> None:
    c = job.counts
    what = "dry run of import" if job.dry_run else "import"
    where = {"workspace_id": job.workspace_id}
    if job.status is ImportStatus.FAILED:
        # The file is the sender's: a warning for the operator, not an error of the service.
        log.warning("%s %s failed: %s", what, job.id, job.failure, extra=where)
        return
    log.info(
        "%s %s %s: %d rows, %d applied, %d unchanged, %d refused, %d invalid",
        what,
        job.id,
        job.status.value,
        c.rows,
        c.applied,
        c.unchanged,
        c.refused,
        c.invalid,
        extra=where,
    )
