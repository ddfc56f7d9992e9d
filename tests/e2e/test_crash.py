"""A 201 is a promise: every acknowledged write survives the server being killed right after it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import State
from tests.e2e.conftest import LaunchServer
from tests.factories import Tenant, make_tenant
from tests.readback import all_profiles, states

pytestmark = pytest.mark.e2e

PATH = "/subscription/status/set"
WRITERS = 8
ACKNOWLEDGED = 120  # the server is killed as soon as this many writes were acknowledged


async def write_until_killed(
    base_url: str, tenant: Tenant, kill: asyncio.Event
) -> tuple[list[str], list[str], list[int]]:
    """Writers send distinct external ids until `kill` is set. Returns (sent, acknowledged,
    statuses of any answer other than 201)."""
    sent: list[str] = []
    acknowledged: list[str] = []
    refused: list[int] = []

    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as http:

        async def writer(number: int) -> None:
            for n in range(10 * ACKNOWLEDGED):
                if kill.is_set():
                    return
                external_id = f"writer-{number}-{n}"
                sent.append(external_id)
                try:
                    response = await http.post(
                        PATH, json=subscribe(tenant, external_id), headers=tenant.auth
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code != 201:
                    refused.append(response.status_code)
                    return
                acknowledged.append(external_id)
                if len(acknowledged) >= ACKNOWLEDGED:
                    kill.set()

        await asyncio.gather(*(writer(number) for number in range(WRITERS)))
    return sent, acknowledged, refused


def subscribe(tenant: Tenant, external_ids: str | list[str]) -> dict[str, object]:
    return {
        "subscription_group_id": tenant.email_group.id,
        "subscription_state": "subscribed",
        "external_id": external_ids,
    }


async def test_acknowledged_writes_survive_sigkill(
    launch: LaunchServer, database_url: str, services: Services
) -> None:
    tenant = await make_tenant(services)
    server = await asyncio.to_thread(launch, database_url)
    kill = asyncio.Event()

    async def killer() -> None:
        await kill.wait()
        server.kill()

    killing = asyncio.create_task(killer())
    sent, acknowledged, refused = await write_until_killed(server.url, tenant, kill)
    await killing

    assert refused == []
    assert len(acknowledged) >= ACKNOWLEDGED
    assert server.process is not None
    assert server.process.returncode == -9

    # Open the database afresh, as the next process would.
    reopened = build_services(Settings(database_url=database_url))
    try:
        records = await assert_every_write_is_whole(reopened, tenant, sent, acknowledged)
    finally:
        await reopened.aclose()

    # A restarted server sees them too: repeating acknowledged writes records nothing new.
    restarted = await asyncio.to_thread(launch, database_url)
    async with httpx.AsyncClient(base_url=restarted.url, timeout=30.0) as http:
        again = await http.post(
            PATH, json=subscribe(tenant, acknowledged[:50]), headers=tenant.auth
        )
        fresh = await http.post(PATH, json=subscribe(tenant, "after-restart"), headers=tenant.auth)
    assert [again.status_code, fresh.status_code] == [201, 201]
    after = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert [c.external_id for c in after[records:]] == ["after-restart"]


async def assert_every_write_is_whole(
    services: Services, tenant: Tenant, sent: list[str], acknowledged: list[str]
) -> int:
    """Each acknowledged id has its profile, its state and its one change record; a write that was
    in flight at the kill is either all there or not there at all."""
    workspace = tenant.workspace.id
    profiles = {p["external_id"]: p["id"] for p in await all_profiles(services, workspace)}
    assert set(acknowledged) <= set(profiles)
    assert set(profiles) <= set(sent)
    stored = await states(services, workspace)
    assert stored == {(pid, tenant.email_group.id): "subscribed" for pid in profiles.values()}
    changes = await services.subscriptions.changes(workspace_id=workspace)
    assert sorted(c.external_id or "" for c in changes) == sorted(profiles)
    assert {(c.old_state, c.new_state) for c in changes} == {(None, State.SUBSCRIBED)}
    return len(changes)
