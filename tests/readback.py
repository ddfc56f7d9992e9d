"""Reading the database back in tests: what a request really wrote, table by table.

The services answer questions about one profile or one workspace; "nothing was written" needs the
whole database, so these helpers count and read the tables directly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from subgroups.container import Services
from subgroups.storage.tables import metadata, profiles, subscription_groups, subscription_states


async def row_counts(services: Services) -> dict[str, int]:
    """The number of rows in every table."""
    counts: dict[str, int] = {}
    async with services.db.snapshot() as conn:
        for table in metadata.sorted_tables:
            counts[table.name] = (
                await conn.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return counts


async def all_profiles(services: Services, workspace_id: int) -> list[dict[str, Any]]:
    """Every profile of the workspace, oldest first."""
    query = (
        select(profiles.c.id, profiles.c.external_id, profiles.c.email, profiles.c.phone)
        .where(profiles.c.workspace_id == workspace_id)
        .order_by(profiles.c.id)
    )
    async with services.db.snapshot() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def states(services: Services, workspace_id: int) -> dict[tuple[int, str], str]:
    """Every stored state of the workspace, by (profile id, public group id)."""
    query = (
        select(
            subscription_states.c.profile_id,
            subscription_groups.c.id,
            subscription_states.c.subscribed,
        )
        .join(subscription_groups, subscription_groups.c.pk == subscription_states.c.group_pk)
        .where(subscription_groups.c.workspace_id == workspace_id)
    )
    async with services.db.snapshot() as conn:
        return {
            (pid, gid): "subscribed" if subscribed else "unsubscribed"
            for pid, gid, subscribed in await conn.execute(query)
        }


async def group_sizes_counted(services: Services, group_pk: int) -> tuple[int, int]:
    """(subscribed, unsubscribed) of a group, counted straight from its states."""
    query = select(subscription_states.c.subscribed, func.count()).where(
        subscription_states.c.group_pk == group_pk
    )
    async with services.db.snapshot() as conn:
        rows = await conn.execute(query.group_by(subscription_states.c.subscribed))
        counts = {bool(subscribed): count for subscribed, count in rows}
    return counts.get(True, 0), counts.get(False, 0)
