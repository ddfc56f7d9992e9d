"""A snapshot is one view of the database for all of its statements (Database.snapshot).

The dashboard reads a group's sizes and its daily changes in one snapshot so that they agree; on
PostgreSQL that needs REPEATABLE READ, since under the default each statement sees what was
committed when it began.
"""

from __future__ import annotations

from sqlalchemy import func, select

from subgroups.container import Services
from subgroups.storage.tables import workspaces
from tests.factories import make_workspace

COUNT = select(func.count()).select_from(workspaces)


async def test_a_snapshot_does_not_see_what_commits_after_its_first_read(
    services: Services,
) -> None:
    await make_workspace(services)
    async with services.db.snapshot() as conn:
        before = (await conn.execute(COUNT)).scalar_one()
        await make_workspace(services)  # committed by another connection meanwhile
        during = (await conn.execute(COUNT)).scalar_one()
    async with services.db.snapshot() as conn:
        after = (await conn.execute(COUNT)).scalar_one()

    assert (before, during, after) == (1, 1, 2)
