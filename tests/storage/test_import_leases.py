"""Who runs a queued import, on each backend, through the import loop with several owners: a loop
stopped for shutdown lets its import go at once, and an import that keeps stopping its runner is
given up after MAX_ATTEMPTS, with a reason its sender can read, instead of being retried forever."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.domain.imports import ImportCounts, ImportJob, ImportStatus
from subgroups.services.imports import MAX_ATTEMPTS, given_up_reason, new_owner
from subgroups.storage.tables import import_files, state_changes
from subgroups.web.app import create_app
from tests.clock import SettableClock, services_at
from tests.factories import Tenant, make_tenant

ROWS = 4500  # three batches of 2,000 rows at most
LEASE = timedelta(seconds=30)  # the default
PAST_THE_LEASE = LEASE + timedelta(seconds=1)


def people_file(group_id: str, rows: int = ROWS) -> bytes:
    lines = ["external_id,subscription_group_id,subscription_state"]
    lines += [f"person-{i},{group_id},subscribed" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
async def timed(settings: Settings) -> AsyncIterator[tuple[Services, SettableClock]]:
    clock = SettableClock(datetime.now(UTC))
    async with services_at(settings, clock) as services:
        yield services, clock


async def queue(services: Services, tenant: Tenant, rows: int = ROWS) -> ImportJob:
    return await services.imports.submit(
        workspace_id=tenant.workspace.id,
        file_name="people.csv",
        content=people_file(tenant.email_group.id, rows),
        dry_run=False,
    )


async def job_of(services: Services, job: ImportJob) -> ImportJob:
    return await services.imports.get(workspace_id=job.workspace_id, import_id=job.id)


async def recorded(services: Services, tenant: Tenant) -> tuple[int, int]:
    """The records of the workspace, and the profiles they are about."""
    query = select(func.count(), func.count(func.distinct(state_changes.c.profile_id))).where(
        state_changes.c.workspace_id == tenant.workspace.id
    )
    async with services.db.snapshot() as conn:
        count, people = (await conn.execute(query)).one()
    return count, people


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "subgroups.imports" and r.levelno >= logging.ERROR
    ]


async def test_a_loop_stopped_after_a_batch_lets_the_import_go_and_another_takes_it_at_once(
    timed: tuple[Services, SettableClock], caplog: pytest.LogCaptureFixture
) -> None:
    services, _clock = timed  # the clock stands still: no lease can lapse
    tenant = await make_tenant(services)
    job = await queue(services, tenant)
    first, second = services.import_loop(), services.import_loop()
    stopping = asyncio.Event()
    stopping.set()  # the shutdown arrives while the first batch is written

    assert await first.run_one(stopping) is False
    paused = await job_of(services, job)
    assert (paused.status, paused.counts.rows, paused.attempts) == (ImportStatus.QUEUED, 2000, 0)

    assert await second.run_one() is True
    done = await job_of(services, job)
    assert (done.status, done.counts.rows, done.counts.subscribed) == (
        ImportStatus.FINISHED,
        ROWS,
        ROWS,
    )
    assert await recorded(services, tenant) == (ROWS, ROWS)
    assert errors(caplog) == []


async def test_without_the_release_a_stopped_runners_import_waits_for_its_lease(
    timed: tuple[Services, SettableClock],
) -> None:
    """What the release spares: a runner that stopped without letting go (killed) holds its job."""
    services, clock = timed
    tenant = await make_tenant(services)
    job = await queue(services, tenant)
    now = clock.now()
    killed = await services.imports._store.claim_next(
        owner=new_owner(), at=now, stale_before=now - LEASE
    )
    assert killed is not None
    assert killed.id == job.id

    assert await services.import_loop().run_one() is False
    clock.advance(PAST_THE_LEASE)
    assert await services.import_loop().run_one() is True
    assert (await job_of(services, job)).status is ImportStatus.FINISHED


async def test_only_the_owner_of_a_running_import_can_let_it_go(
    timed: tuple[Services, SettableClock],
) -> None:
    services, clock = timed
    store = services.imports._store
    tenant = await make_tenant(services)
    job = await queue(services, tenant, rows=3)
    owner, stranger = new_owner(), new_owner()
    now = clock.now()

    assert await store.release(job.workspace_id, job.id, owner=owner) is False  # queued
    assert await store.claim_next(owner=owner, at=now, stale_before=now - LEASE)
    assert await store.release(job.workspace_id, job.id, owner=stranger) is False
    assert (await job_of(services, job)).status is ImportStatus.RUNNING
    assert await store.release(job.workspace_id, job.id, owner=owner) is True
    assert (await job_of(services, job)).status is ImportStatus.QUEUED
    assert await store.release(job.workspace_id, job.id, owner=owner) is False

    assert await services.import_loop().run_one() is True
    assert await store.release(job.workspace_id, job.id, owner=owner) is False  # finished


@pytest.fixture
async def refused_records(database_url: str) -> AsyncIterator[None]:
    """Every record refused by the database itself: each batch fails with an error that is no
    fault of the file, as a bug of the service would make it fail."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TRIGGER refuse_records BEFORE INSERT ON state_changes"
                " BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
            )
        db.close()
        yield
        return
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE FUNCTION refuse_records() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$;"
            " CREATE TRIGGER refuse_records BEFORE INSERT ON state_changes"
            " FOR EACH ROW EXECUTE FUNCTION refuse_records()"
        )
        yield
    finally:
        await conn.execute(
            "DROP TRIGGER IF EXISTS refuse_records ON state_changes;"
            " DROP FUNCTION IF EXISTS refuse_records()"
        )
        await conn.close()


async def test_an_import_that_keeps_failing_its_runner_is_given_up_after_max_attempts(
    timed: tuple[Services, SettableClock],
    settings: Settings,
    refused_records: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services, clock = timed
    tenant = await make_tenant(services)
    job = await queue(services, tenant)
    loops = [services.import_loop() for _ in range(MAX_ATTEMPTS + 1)]

    for attempt in range(1, MAX_ATTEMPTS):
        assert await loops[attempt - 1].run_one() is False
        failing = await job_of(services, job)
        assert (failing.status, failing.attempts) == (ImportStatus.RUNNING, attempt)
        # The job keeps its lease: nobody tries it again before the lease has lapsed.
        assert await loops[-1].run_one() is False
        clock.advance(PAST_THE_LEASE)
    assert await loops[MAX_ATTEMPTS - 1].run_one() is True

    failed = await job_of(services, job)
    assert failed.status is ImportStatus.FAILED
    assert failed.failure == given_up_reason(MAX_ATTEMPTS)
    assert failed.counts.rows == 0
    clock.advance(PAST_THE_LEASE)
    assert await loops[-1].run_one() is False  # never taken up again
    async with services.db.snapshot() as conn:
        kept = (await conn.execute(select(func.count()).select_from(import_files))).scalar_one()
    assert kept == 0
    logged = errors(caplog)
    assert len(logged) == MAX_ATTEMPTS
    assert all(r.exc_info is not None for r in logged)
    assert logged[-1].getMessage() == f"import {job.id} given up: {given_up_reason(MAX_ATTEMPTS)}"
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        report = await client.get(f"/imports/{job.id}", headers=tenant.auth)
    assert (report.json()["status"], report.json()["failure"]) == (
        "failed",
        given_up_reason(MAX_ATTEMPTS),
    )


async def test_runners_that_died_before_a_batch_count_as_attempts(
    timed: tuple[Services, SettableClock], caplog: pytest.LogCaptureFixture
) -> None:
    """A runner killed outright cannot say so: each claim counts, and only a batch written
    starts the count again."""
    services, clock = timed
    store = services.imports._store
    tenant = await make_tenant(services)
    job = await queue(services, tenant)
    stopping = asyncio.Event()
    stopping.set()

    async def die_after_claiming() -> None:
        now = clock.now()
        assert await store.claim_next(owner=new_owner(), at=now, stale_before=now - LEASE)
        clock.advance(PAST_THE_LEASE)

    for _ in range(MAX_ATTEMPTS - 1):
        await die_after_claiming()
    assert (await job_of(services, job)).attempts == MAX_ATTEMPTS - 1
    assert await services.import_loop().run_one(stopping) is False  # one batch, then paused
    assert (await job_of(services, job)).attempts == 0

    for _ in range(MAX_ATTEMPTS):
        await die_after_claiming()
    assert await services.import_loop().run_one() is True

    failed = await job_of(services, job)
    assert (failed.status, failed.failure) == (ImportStatus.FAILED, given_up_reason(MAX_ATTEMPTS))
    assert failed.counts.rows == 2000  # the batch written before stays written
    [logged] = errors(caplog)
    assert logged.exc_info is None


async def test_a_run_that_wrote_a_batch_before_its_error_is_not_given_up(
    timed: tuple[Services, SettableClock],
) -> None:
    services, clock = timed
    store = services.imports._store
    tenant = await make_tenant(services)
    job = await queue(services, tenant)
    for _ in range(MAX_ATTEMPTS - 1):
        now = clock.now()
        assert await store.claim_next(owner=new_owner(), at=now, stale_before=now - LEASE)
        clock.advance(PAST_THE_LEASE)

    def fails_after_the_first_batch(_job: ImportJob, _counts: ImportCounts) -> None:
        raise RuntimeError("a bug met after the first batch")

    with pytest.raises(RuntimeError, match="a bug met after the first batch"):
        await services.imports.run_next(owner=new_owner(), progress=fails_after_the_first_batch)

    kept = await job_of(services, job)
    assert (kept.status, kept.counts.rows, kept.attempts) == (ImportStatus.RUNNING, 2000, 0)
