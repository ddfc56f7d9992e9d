"""The PostgreSQL pools' metrics: connections lent, and the requests that had to wait for one."""

from __future__ import annotations

import asyncio

import pytest

from subgroups.services.metrics import Metrics
from subgroups.storage.postgres_database import PostgresDatabase

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


def sample(metrics: Metrics, name: str, pool: str) -> float:
    return metrics.sample(name, {"pool": pool})


async def test_a_request_that_finds_every_connection_lent_is_counted_as_a_wait(
    database_url: str,
) -> None:
    metrics = Metrics()
    db = PostgresDatabase(database_url, pool_size=1, metrics=metrics)
    try:
        first_holds, release = asyncio.Event(), asyncio.Event()
        lent_meanwhile: list[float] = []

        async def first() -> None:
            async with db.raw() as conn:
                await conn.fetchval("SELECT 1")
                first_holds.set()
                lent_meanwhile.append(
                    sample(metrics, "subgroups_postgres_pool_connections_in_use", "raw")
                )
                await release.wait()

        async def second() -> int:
            await first_holds.wait()
            asyncio.get_running_loop().call_later(0.05, release.set)
            async with db.raw() as conn:
                value: int = await conn.fetchval("SELECT 2")
                return value

        _, answered = await asyncio.gather(first(), second())
    finally:
        await db.dispose()

    assert answered == 2
    assert lent_meanwhile == [1.0]
    assert sample(metrics, "subgroups_postgres_pool_waits_total", "raw") == 1.0
    assert sample(metrics, "subgroups_postgres_pool_wait_seconds_total", "raw") > 0
    assert sample(metrics, "subgroups_postgres_pool_connections_in_use", "raw") == 0.0
    assert sample(metrics, "subgroups_postgres_pool_connections_max", "raw") == 1.0
    assert sample(metrics, "subgroups_postgres_pool_waits_total", "sqlalchemy") == 0.0
