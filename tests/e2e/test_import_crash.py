"""An import process killed with SIGKILL halfway through a 200,000-row file, then run again on the
same file: it resumes after the last committed batch, every row is applied once and no change is
recorded twice (§10), on each backend."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from subgroups.container import Services
from subgroups.storage.tables import imports, state_changes
from tests.factories import make_tenant

pytestmark = pytest.mark.e2e

ROWS = 200_000


def write_file(path: Path, group_id: str) -> None:
    with path.open("w") as out:
        out.write("external_id,subscription_group_id,subscription_state\n")
        for i in range(ROWS):
            out.write(f"person-{i},{group_id},{'unsubscribed' if i % 4 == 0 else 'subscribed'}\n")


def start_import(
    path: Path, workspace_id: int, database_url: str, *, output: int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    arguments = ["import", str(path), "--workspace", str(workspace_id), "--json"]
    return subprocess.Popen(
        [sys.executable, "-m", "subgroups", *arguments, "--database-url", database_url],
        stdout=output,
        stderr=output,
        # A lease this short lets the rerun take the job over at once; the runner renews it with
        # every batch, many times a second.
        env={**os.environ, "SUBGROUPS_IMPORT_LEASE_SECONDS": "0.5"},
    )


async def committed_rows(services: Services) -> int:
    async with services.db.snapshot() as conn:
        done = (await conn.execute(select(func.coalesce(func.max(imports.c.rows), 0)))).scalar_one()
    return int(done)


async def until_a_quarter_is_committed(
    services: Services, process: subprocess.Popen[bytes]
) -> None:
    """Polls the job's progress, which another process writes: there is nothing to wait on."""
    for _ in range(100_000):
        if await committed_rows(services) >= ROWS // 4 or process.poll() is not None:
            return
        await asyncio.sleep(0.05)


async def test_a_killed_import_resumes_and_applies_every_row_once(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    tenant = await make_tenant(services)
    path = tmp_path / "people.csv"
    write_file(path, tenant.email_group.id)
    process = start_import(path, tenant.workspace.id, database_url, output=subprocess.DEVNULL)
    try:
        await until_a_quarter_is_committed(services, process)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the import ended before it could be killed"
    halfway = await committed_rows(services)
    assert ROWS // 4 <= halfway < ROWS

    await asyncio.sleep(1.0)  # the dead runner's lease runs out
    resumed = start_import(path, tenant.workspace.id, database_url)
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr.decode()
    report = orjson.loads(stdout)

    assert (report["status"], report["rows"], report["applied"]) == ("finished", ROWS, ROWS)
    assert (report["subscribed"], report["unsubscribed"]) == (ROWS * 3 // 4, ROWS // 4)
    assert report["profiles_created"] == ROWS
    async with services.db.snapshot() as conn:
        jobs = (await conn.execute(select(imports.c.id))).scalars().all()
        per_profile = await conn.execute(
            select(
                state_changes.c.profile_id, func.count(), func.min(state_changes.c.import_id)
            ).group_by(state_changes.c.profile_id)
        )
        counts = {(n, import_id) for _, n, import_id in per_profile}
        recorded = (
            await conn.execute(select(func.count()).select_from(state_changes))
        ).scalar_one()
    assert jobs == [report["import_id"]]  # the rerun took the killed job over
    assert recorded == ROWS
    assert counts == {(1, report["import_id"])}
