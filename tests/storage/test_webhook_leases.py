"""Webhook endpoint leases on both backends: the endpoints are shared out among the dispatchers
running, an endpoint is held by one of them at a time, and one that dies loses its endpoints only
when its lease runs out."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from subgroups.container import Services, build_services
from tests.factories import make_workspace

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def endpoints(services: Services, count: int) -> int:
    """`count` endpoints in a new workspace; its id."""
    workspace = await make_workspace(services)
    for n in range(count):
        await services.webhooks.create(workspace_id=workspace.id, url=f"https://example.com/{n}")
    return workspace.id


async def claim(services: Services, owner: str, at: datetime = NOW) -> set[str]:
    held = await services.webhook_queue.claim(owner=owner, now=at, until=at + LEASE, limit=100)
    return {e.id for e in held}


async def test_endpoints_are_shared_out_and_each_is_held_once(services: Services) -> None:
    workspace_id = await endpoints(services, 5)
    first = await claim(services, "a")
    assert len(first) == 5  # alone: all of them
    second = await claim(services, "b")
    assert second == set()  # all held; "a" now knows it has company
    a_again = await claim(services, "a")
    assert len(a_again) == 3  # its share of 5 among 2; it keeps the other 2 until it releases them
    given_up = [
        e
        for e in await services.webhooks.list(workspace_id=workspace_id)
        if e.id in first - a_again
    ]
    await services.webhook_queue.release(owner="a", endpoints_given_up=given_up)
    b_again = await claim(services, "b")
    assert len(b_again) == 2
    assert a_again.isdisjoint(b_again)


async def test_a_dead_dispatchers_endpoints_are_taken_when_its_lease_runs_out(
    services: Services,
) -> None:
    await endpoints(services, 2)
    assert len(await claim(services, "dead")) == 2
    assert await claim(services, "alive", NOW + LEASE / 2) == set()
    taken = await claim(services, "alive", NOW + LEASE + timedelta(seconds=1))
    assert len(taken) == 2


async def test_claims_made_at_the_same_moment_never_share_an_endpoint(
    services: Services,
) -> None:
    """Separate connection pools, as separate processes have (PostgreSQL: SKIP LOCKED)."""
    await endpoints(services, 8)
    others = [build_services(replace(services.settings)) for _ in range(3)]
    try:
        found = await asyncio.gather(*(claim(s, f"d{n}") for n, s in enumerate(others)))
    finally:
        for other in others:
            await other.aclose()
    held = [endpoint for one in found for endpoint in one]
    assert len(held) == len(set(held))
