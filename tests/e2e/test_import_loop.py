"""The background import loop in real processes, on each backend: `subgroups worker` runs queued
imports, and a server stopped in the middle of one stops after its current batch and lets it go,
so the next process resumes it at once and applies every row once.

Each test has a database of its own: the shared end-to-end server runs an import loop too, and
would take the imports these tests mean for their own processes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from subgroups.container import Services
from subgroups.domain.imports import ImportJob
from subgroups.storage.tables import state_changes
from tests.e2e.conftest import STARTUP_LIMIT_SECONDS
from tests.factories import Tenant, make_tenant
from tests.servers import ServerProcess, environment, subgroups

pytestmark = pytest.mark.e2e

ROWS = 100_000


def people_file(group_id: str, rows: int) -> bytes:
    lines = ["external_id,subscription_group_id,subscription_state"]
    lines += [f"person-{i},{group_id},subscribed" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def until(
    services: Services, tenant: Tenant, import_id: str, done: str, seconds: float
) -> ImportJob:
    """The job once `done(job)` holds, polled from the database."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = await services.imports.get(workspace_id=tenant.workspace.id, import_id=import_id)
        if done == "over" and job.status.value in ("finished", "failed"):
            return job
        if done == "started" and job.counts.rows > 0:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {import_id} was not {done} within {seconds} s")


def errors_in(log: str) -> list[str]:
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line["message"] for line in lines if line["level"] in ("ERROR", "CRITICAL")]


def start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "subgroups", "worker", "--database-url", database_url],
            stdout=out,
            stderr=out,
            env=environment({"SUBGROUPS_IMPORT_POLL_SECONDS": "0.1"}),
        )


async def test_the_worker_runs_queued_imports_and_stops_cleanly(
    database_url: str, services: Services, tmp_path: Path
) -> None:
    tenant = await make_tenant(services)
    job = await services.imports.submit(
        workspace_id=tenant.workspace.id,
        file_name="people.csv",
        content=people_file(tenant.email_group.id, 10),
        dry_run=False,
    )
    log = tmp_path / "worker.log"
    worker = start_worker(database_url, log)
    try:
        finished = await until(services, tenant, job.id, "over", STARTUP_LIMIT_SECONDS)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    assert (finished.status.value, finished.counts.subscribed) == ("finished", 10)
    assert worker.returncode == 0, log.read_text()
    assert errors_in(log.read_text()) == []
    assert f"import {job.id} finished: 10 rows" in log.read_text()


async def test_a_server_stopped_mid_import_leaves_it_to_the_next_which_applies_each_row_once(
    database_url: str, services: Services, tmp_path: Path
) -> None:
    tenant = await make_tenant(services)
    # A lease far longer than the test: the second server can only resume the import at once
    # because the first let it go when it stopped.
    env = {"SUBGROUPS_IMPORT_LEASE_SECONDS": "3600", "SUBGROUPS_IMPORT_POLL_SECONDS": "0.1"}

    def server(name: str) -> ServerProcess:
        return ServerProcess(
            subgroups("serve", database_url),
            log=tmp_path / name,
            env=env,
            start_timeout=STARTUP_LIMIT_SECONDS,
        )

    first = server("first.log")
    first.start()
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            sent = await http.post(
                "/imports",
                content=people_file(tenant.email_group.id, ROWS),
                headers={**tenant.auth, "Content-Type": "text/csv"},
            )
        assert sent.status_code == 202, sent.text
        import_id = sent.json()["import_id"]
        await until(services, tenant, import_id, "started", 60)
    finally:
        first.stop()
    # Stopped by its own hand within the grace (uvicorn ends on the signal it was sent, once the
    # app's shutdown is over), not killed after it; warnings and errors are written at once.
    assert first.process.returncode == -signal.SIGTERM, first.log_text()
    assert errors_in(first.log_text()) == []
    paused = await services.imports.get(workspace_id=tenant.workspace.id, import_id=import_id)
    assert paused.status.value == "queued"
    assert 0 < paused.counts.rows < ROWS, "the import ended before the server was stopped"

    second = server("second.log")
    second.start()
    try:
        finished = await until(services, tenant, import_id, "over", 300)
    finally:
        second.stop()

    assert (finished.status.value, finished.counts.rows) == ("finished", ROWS)
    assert finished.counts.subscribed == ROWS
    async with services.db.snapshot() as conn:
        recorded = (
            await conn.execute(
                select(func.count(), func.count(func.distinct(state_changes.c.profile_id))).where(
                    state_changes.c.workspace_id == tenant.workspace.id
                )
            )
        ).one()
    assert tuple(recorded) == (ROWS, ROWS)
    assert errors_in(second.log_text()) == []
