"""The rate-limit service over the in-process counter store."""

from __future__ import annotations

from subgroups.domain.models import Permission
from subgroups.services.metrics import Metrics
from subgroups.services.ratelimits import Pool, RateLimitService
from subgroups.storage.counters import LocalCounters


def service(metrics: Metrics | None = None) -> RateLimitService:
    return RateLimitService(
        rates={Pool.SET: "2/minute", Pool.GET: "3/hour"},
        local=LocalCounters(),
        shared=None,
        metrics=metrics or Metrics(),
    )


async def test_the_two_read_permissions_share_one_pool_apart_from_sets() -> None:
    limits = service()

    sets = [await limits.hit(workspace_id=1, permission=Permission.STATUS_SET) for _ in range(3)]
    reads = [
        await limits.hit(workspace_id=1, permission=p)
        for p in (Permission.STATUS_GET, Permission.GROUPS_GET, Permission.STATUS_GET)
    ]
    over = await limits.hit(workspace_id=1, permission=Permission.GROUPS_GET)

    assert [q.allowed for q in sets] == [True, True, False]
    assert [(q.limit, q.remaining, q.allowed) for q in reads] == [
        (3, 2, True),
        (3, 1, True),
        (3, 0, True),
    ]
    assert not over.allowed


async def test_peeking_counts_nothing() -> None:
    limits = service()

    fresh = await limits.peek(workspace_id=7, permission=Permission.STATUS_SET)
    await limits.hit(workspace_id=7, permission=Permission.STATUS_SET)
    after = await limits.peek(workspace_id=7, permission=Permission.STATUS_SET)

    assert (fresh.remaining, after.remaining) == (2, 1)
    assert fresh.allowed
    assert after.allowed


async def test_refusals_are_counted_in_the_metrics() -> None:
    metrics = Metrics()
    limits = service(metrics)

    for _ in range(4):
        await limits.hit(workspace_id=1, permission=Permission.STATUS_SET)

    assert metrics.value("subgroups_rate_limited_total") == 2
    assert b"subgroups_rate_limited_total 2.0\n" in await metrics.render()
