"""Many clients changing the same people at once, through a real server: no errors, and a trail that
tells exactly what happened (contract §4 atomicity, §7)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from subgroups.container import Services
from subgroups.domain.models import StateChange
from tests.e2e.conftest import LaunchServer
from tests.factories import Tenant
from tests.readback import all_profiles, states
from tests.servers import ServerProcess

pytestmark = pytest.mark.e2e

PATH = "/subscription/status/set"
CLIENTS = 16
REQUESTS_EACH = 25
PEOPLE = ["shared", "a", "b", "c"]
ORDERS = list(itertools.permutations(PEOPLE))
CROWD = "crowd@example.com"


def request_body(tenant: Tenant, client: int, n: int) -> dict[str, Any]:
    """Request `n` of `client`: states alternate; every external-id request names "shared", with
    some of the others, in one of the 24 orders; every fifth request names a new-ish email alone."""
    step = client * REQUESTS_EACH + n
    state = "subscribed" if (client + n) % 2 == 0 else "unsubscribed"
    if step % 5 == 4:
        return {
            "subscription_group_id": tenant.email_group.id,
            "subscription_state": state,
            "email": CROWD,
        }
    order = ORDERS[step % len(ORDERS)]
    named = list(order[: 1 + (client + n) % len(PEOPLE)])
    if "shared" not in named:
        named.append("shared")
    group = tenant.sms_group if step % 5 == 3 else tenant.email_group
    return {"subscription_group_id": group.id, "subscription_state": state, "external_id": named}


async def test_concurrent_clients_on_the_same_profiles(
    server: ServerProcess, tenant: Tenant, e2e_services: Services
) -> None:
    await assert_concurrent_clients_leave_a_true_trail(server, tenant, e2e_services)


async def test_concurrent_clients_across_worker_processes(
    launch: LaunchServer, e2e_database: str, tenant: Tenant, e2e_services: Services
) -> None:
    # Several processes on one database, each with its own writer (on SQLite, its own group
    # commit, taking turns on the lock beside the file): nothing fails, nothing is lost.
    server = launch(e2e_database, workers=3)
    await assert_concurrent_clients_leave_a_true_trail(server, tenant, e2e_services)
    if e2e_database.startswith("sqlite:///"):
        lock = Path(e2e_database.removeprefix("sqlite:///") + "-writer.lock")
        assert await asyncio.to_thread(lock.is_file)


async def assert_concurrent_clients_leave_a_true_trail(
    server: ServerProcess, tenant: Tenant, e2e_services: Services
) -> None:
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=CLIENTS)

    async with httpx.AsyncClient(base_url=server.url, timeout=60.0, limits=limits) as http:

        async def client(number: int) -> None:
            for n in range(REQUESTS_EACH):
                response = await http.post(
                    PATH, json=request_body(tenant, number, n), headers=tenant.auth
                )
                statuses[response.status_code] += 1

        await asyncio.gather(*(client(number) for number in range(CLIENTS)))

    assert statuses == {201: CLIENTS * REQUESTS_EACH}

    workspace = tenant.workspace.id
    profiles = await all_profiles(e2e_services, workspace)
    assert sorted((p["external_id"] or "", p["email"] or "") for p in profiles) == [
        ("", CROWD),
        ("a", ""),
        ("b", ""),
        ("c", ""),
        ("shared", ""),
    ]
    changes = await e2e_services.subscriptions.changes(workspace_id=workspace)
    stored = await states(e2e_services, workspace)
    assert_trail_explains_states(changes, stored)
    shared = next(p["id"] for p in profiles if p["external_id"] == "shared")
    assert {(shared, tenant.email_group.id), (shared, tenant.sms_group.id)} <= set(stored)


def assert_trail_explains_states(
    changes: list[StateChange], stored: dict[tuple[int, str], str]
) -> None:
    """Every record is a real change following the one before it, and the last one is the state."""
    ids = [c.id for c in changes]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    trails: defaultdict[tuple[int, str], list[StateChange]] = defaultdict(list)
    for change in changes:
        trails[(change.profile_id, change.subscription_group_id)].append(change)
    assert set(trails) == set(stored)
    for key, trail in trails.items():
        previous = None
        for change in trail:
            assert change.old_state == previous, (key, change)
            assert change.old_state != change.new_state, (key, change)
            previous = change.new_state
        assert previous is not None
        assert stored[key] == previous.value, key
    # So many alternating requests must have really changed things more than once.
    assert max(len(trail) for trail in trails.values()) > 2
