"""The background import loop's rules, on a queue of scripted runs: one job's failure never ends
the loop, each outcome is logged at its level, and a stop ends a run after its current batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from subgroups.domain.imports import ImportCounts, ImportJob, ImportStatus
from subgroups.errors import DatabaseUnavailable, LeaseLost
from subgroups.services.import_loop import ImportLoop
from subgroups.services.imports import ImportGivenUp, Progress

Run = Callable[[Progress | None], ImportJob | None]


def job(status: ImportStatus, *, failure: str | None = None, rows: int = 3) -> ImportJob:
    return ImportJob(
        id=f"job-{status.value}",
        workspace_id=1,
        file_name="people.csv",
        sha256="0" * 64,
        size=10,
        dry_run=False,
        status=status,
        total_rows=rows,
        counts=ImportCounts(rows=rows, subscribed=rows),
        failure=failure,
        ignored_columns=(),
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
        finished_at=None,
    )


class ScriptedQueue:
    """Hands out the scripted runs in turn, then reports an empty queue."""

    def __init__(self, *runs: Run) -> None:
        self.runs = list(runs)
        self.owners: list[str] = []

    async def run_next(self, *, owner: str, progress: Progress | None = None) -> ImportJob | None:
        self.owners.append(owner)
        if not self.runs:
            return None
        return self.runs.pop(0)(progress)


def returns(result: ImportJob | None) -> Run:
    return lambda _progress: result


def raises(error: Exception) -> Run:
    def run(_progress: Progress | None) -> ImportJob | None:
        raise error

    return run


def levels(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "subgroups.imports"]


async def test_runs_queued_imports_one_after_another_then_reports_an_empty_queue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    queue = ScriptedQueue(returns(job(ImportStatus.FINISHED)), returns(job(ImportStatus.FINISHED)))
    loop = ImportLoop(imports=queue, poll_seconds=0.01)

    assert [await loop.run_one(), await loop.run_one(), await loop.run_one()] == [
        True,
        True,
        False,
    ]
    assert set(queue.owners) == {loop.owner}
    assert (
        levels(caplog)
        == [
            (
                logging.INFO,
                "import job-finished finished: 3 rows, 3 applied, 0 unchanged, 0 refused, 0 invalid",
            )
        ]
        * 2
    )


async def test_a_failed_import_is_a_warning_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    failed = job(ImportStatus.FAILED, failure="The file has a header row but no rows to import")
    queue = ScriptedQueue(returns(failed), returns(job(ImportStatus.FINISHED)))

    await run_until_drained(ImportLoop(imports=queue, poll_seconds=0.01), queue)

    assert [level for level, _ in levels(caplog)] == [logging.WARNING, logging.INFO]
    assert levels(caplog)[0][1] == (
        "import job-failed failed: The file has a header row but no rows to import"
    )


async def test_an_unexpected_error_is_logged_and_the_next_import_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    queue = ScriptedQueue(
        raises(RuntimeError("a bug")),
        raises(DatabaseUnavailable("connection refused")),
        raises(LeaseLost("job-x")),
        returns(job(ImportStatus.FINISHED)),
    )

    await run_until_drained(ImportLoop(imports=queue, poll_seconds=0.01), queue)

    logged = levels(caplog)
    assert [level for level, _ in logged] == [
        logging.ERROR,
        logging.ERROR,
        logging.WARNING,
        logging.INFO,
    ]
    assert logged[1][1] == ("import run stopped, the database is unavailable: connection refused")
    assert logged[2][1] == "import run given up: Import job-x is now run by another process"
    bug, unavailable = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert bug.exc_info is not None
    assert unavailable.exc_info is None


async def test_a_stop_ends_the_run_after_the_batch_it_is_writing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    stop = asyncio.Event()
    batches: list[int] = []

    def three_batches(progress: Progress | None) -> ImportJob | None:
        running = job(ImportStatus.RUNNING)
        assert progress is not None
        for batch in range(3):
            batches.append(batch)
            if batch == 1:
                stop.set()  # shutdown arrives while the second batch is written
            progress(running, ImportCounts(rows=batch + 1))
        return job(ImportStatus.FINISHED)

    queue = ScriptedQueue(three_batches, returns(job(ImportStatus.FINISHED)))
    loop = ImportLoop(imports=queue, poll_seconds=0.01)

    await asyncio.wait_for(loop.run(stop), timeout=5)

    assert batches == [0, 1]
    assert len(queue.runs) == 1  # nothing more was started
    assert levels(caplog) == [
        (
            logging.INFO,
            "import job-running paused for shutdown; the next process to look for work resumes it",
        )
    ]


async def test_an_import_given_up_is_one_error_with_the_last_failure_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    failed = job(ImportStatus.FAILED, failure="given up")
    given_up = ImportGivenUp(failed)
    given_up.__cause__ = RuntimeError("a bug")
    queue = ScriptedQueue(raises(given_up), returns(job(ImportStatus.FINISHED)))

    await run_until_drained(ImportLoop(imports=queue, poll_seconds=0.01), queue)

    logged = levels(caplog)
    assert [level for level, _ in logged] == [logging.ERROR, logging.INFO]
    assert logged[0][1] == "import job-failed given up: given up"
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.exc_info is not None
    assert error.exc_info[1] is given_up.__cause__


async def test_an_idle_loop_polls_and_stops_at_once(caplog: pytest.LogCaptureFixture) -> None:
    queue = ScriptedQueue()
    stop = asyncio.Event()
    loop = ImportLoop(imports=queue, poll_seconds=0.01)
    running = asyncio.create_task(loop.run(stop))

    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(running, timeout=1)

    assert len(queue.owners) >= 3
    assert levels(caplog) == []


async def run_until_drained(loop: ImportLoop, queue: ScriptedQueue) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    for _ in range(500):
        if not queue.runs:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=5)
