"""Webhooks end to end: `subgroups serve` processes deliver every change, signed, to a receiver
on 127.0.0.1 that verifies each signature with `standardwebhooks`, on each backend.

What is checked is what a receiver sees: every change arrives (through every surface that makes
changes), signatures verify, a rotated secret signs beside the new one only during its grace, an
outage of the receiver loses nothing, a server killed with SIGKILL again and again loses nothing,
and two servers never send the same event at the same time.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import select

from subgroups.container import Services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.domain.webhooks import DeliveryStatus
from subgroups.storage.tables import webhook_endpoints
from tests.dashboard.helpers import csrf_of
from tests.webhooks.conftest import Servers, Tenant, cli, create_endpoint
from tests.webhooks.receiver import Answer, Receiver, receiving


async def change_ids(services: Services, workspace_id: int) -> set[int]:
    return {c.id for c in await services.subscriptions.changes(workspace_id=workspace_id)}


async def make_changes(services: Services, tenant: Tenant, count: int, *, prefix: str) -> None:
    """`count` changes, in requests of up to 50 objects, as the API makes them."""
    for start in range(0, count, 50):
        requests = [
            GroupRequest(
                group_id=tenant.group.id,
                state="subscribed",
                external_id=f"{prefix}-{n}",
                email=f"{prefix}-{n}@example.com",
            )
            for n in range(start, min(count, start + 50))
        ]
        await services.subscriptions.set_states(
            workspace_id=tenant.workspace.id, requests=requests, actor=Actor(Source.REST_API)
        )


async def test_every_change_from_every_surface_arrives_signed(
    database_url: str,
    services: Services,
    tenant: Tenant,
    servers: Servers,
    web: httpx.AsyncClient,
) -> None:
    receiver = Receiver()
    endpoint_id, secret = await create_endpoint(database_url, tenant.workspace.id, receiver.url)
    receiver.secrets.append(secret)
    receiver.start()
    try:
        server = servers.start()
        auth = {"Authorization": f"Bearer {tenant.key}"}
        group_id = tenant.group.id
        async with httpx.AsyncClient(base_url=server.url, headers=auth) as api:
            v1 = {"subscription_group_id": group_id, "subscription_state": "subscribed"}
            reply = await api.post(
                "/subscription/status/set", json={**v1, "external_id": "ada", "email": "a@x.io"}
            )
            assert reply.status_code == 201, reply.text
            v2 = {
                "subscription_groups": [
                    {
                        "subscription_group_id": group_id,
                        "subscription_state": "subscribed",
                        "external_ids": ["bob", "cy"],
                    }
                ]
            }
            reply = await api.post("/v2/subscription/status/set", json=v2)
            assert reply.status_code == 201, reply.text
        # The dashboard, in this process, on the same database: the server delivers it too.
        [ada] = await services.subscriptions.profiles(
            workspace_id=tenant.workspace.id, kind="external_id", value="ada"
        )
        page = await web.get(f"/dashboard/w/{tenant.workspace.id}/profiles?by=external_id&q=ada")
        form = {
            "csrf": csrf_of(page.text),
            "state": "unsubscribed",
            "group_id": group_id,
            "by": "external_id",
            "q": "ada",
        }
        reply = await web.post(
            f"/dashboard/w/{tenant.workspace.id}/profiles/{ada.id}/state", data=form
        )
        assert reply.status_code == 303, reply.text
        await cli(
            database_url,
            *("profile", "set", "--workspace", str(tenant.workspace.id), "--group", group_id),
            *("--state", "unsubscribed", "--external-id", "bob"),
        )

        made = await change_ids(services, tenant.workspace.id)
        assert len(made) == 5
        await receiver.wait_for(made)
        await asyncio.sleep(0.5)  # time for a second copy to arrive, if one were sent
        assert receiver.unverified == []
        arrivals = sorted(receiver.arrivals, key=lambda a: a.change_id)
        assert [a.change_id for a in arrivals] == sorted(made)  # each once
        assert [a.body["data"]["source"] for a in arrivals] == [  # type: ignore[index]
            "REST API", "REST API", "REST API", "Dashboard", "CLI",
        ]  # fmt: skip
        for arrival in arrivals:
            assert arrival.body["type"] == "subscription.state_changed"
            assert arrival.webhook_id == f"msg_{arrival.change_id}_{endpoint_id}"
            assert arrival.headers["content-type"] == "application/json"
            assert abs(arrival.timestamp - time.time()) < 60
        changes = {
            c.id: c for c in await services.subscriptions.changes(workspace_id=tenant.workspace.id)
        }
        first = arrivals[0].body["data"]
        assert isinstance(first, dict)
        assert first["external_id"] == "ada" == changes[arrivals[0].change_id].external_id
        assert first["workspace_id"] == tenant.workspace.id
        delivered = await services.webhooks.deliveries(endpoint_id, workspace_id=None, limit=10)
        assert {d.status for d in delivered} == {DeliveryStatus.DELIVERED}
        assert all(d.response_status == 204 and d.latency_ms is not None for d in delivered)
    finally:
        receiver.stop()
    assert '"level":"ERROR"' not in servers.logs()


async def test_a_rotated_secret_signs_beside_the_new_one_only_during_its_grace(
    database_url: str, services: Services, tenant: Tenant, servers: Servers
) -> None:
    receiver = Receiver()
    endpoint_id, old = await create_endpoint(database_url, tenant.workspace.id, receiver.url)
    receiver.secrets.append(old)
    receiver.start()
    try:
        servers.start()
        await make_changes(services, tenant, 1, prefix="before")
        await receiver.wait_for(await change_ids(services, tenant.workspace.id))
        rotated = await cli(
            database_url, "webhook", "rotate-secret", endpoint_id, "--grace-seconds", "4"
        )
        assert isinstance(rotated, dict)
        new = rotated["secret"]
        assert new != old
        receiver.secrets.append(new)
        # A dispatcher reads secrets when it renews its lease (a third of HOOK_ENV's 2 s).
        await asyncio.sleep(1.5)
        await make_changes(services, tenant, 1, prefix="during")
        await receiver.wait_for(await change_ids(services, tenant.workspace.id))
        await asyncio.sleep(4)  # the grace is over
        await make_changes(services, tenant, 1, prefix="after")
        await receiver.wait_for(await change_ids(services, tenant.workspace.id))
    finally:
        receiver.stop()

    signers = [a.signed_by for a in sorted(receiver.arrivals, key=lambda a: a.change_id)]
    assert signers == [frozenset({0}), frozenset({0, 1}), frozenset({1})]


async def test_a_receiver_that_is_down_for_a_while_gets_everything_when_it_is_back(
    database_url: str, services: Services, tenant: Tenant, servers: Servers
) -> None:
    receiver = Receiver()
    endpoint_id, secret = await create_endpoint(database_url, tenant.workspace.id, receiver.url)
    receiver.secrets.append(secret)
    servers.start()
    await make_changes(services, tenant, 20, prefix="outage")
    made = await change_ids(services, tenant.workspace.id)

    async def attempted() -> list[int]:
        found = await services.webhooks.deliveries(endpoint_id, workspace_id=None, limit=100)
        return [d.attempts for d in found if d.status is DeliveryStatus.PENDING]

    deadline = time.monotonic() + 30
    while not (attempts := await attempted()) or min(attempts) < 2:
        assert time.monotonic() < deadline, "the deliveries were not tried while it was down"
        await asyncio.sleep(0.1)
    failed = await services.webhooks.deliveries(endpoint_id, workspace_id=None, limit=1)
    assert failed[0].response_status is None
    assert failed[0].detail is not None
    assert "ConnectError" in failed[0].detail

    with receiving([secret], port=receiver.port) as back:
        await back.wait_for(made)
    assert back.unverified == []


async def test_kill_9_while_delivering_loses_no_event(
    database_url: str, services: Services, tenant: Tenant, servers: Servers
) -> None:
    """SIGKILL of the server, again and again, while it delivers: after the last restart every
    change arrives (at least once), and the queue holds no event without its change."""
    slow = Receiver(answer=lambda _arrival: Answer(delay=0.02))
    endpoint_id, secret = await create_endpoint(database_url, tenant.workspace.id, slow.url)
    slow.secrets.append(secret)
    slow.start()
    try:
        await make_changes(services, tenant, 400, prefix="crash")
        made = await change_ids(services, tenant.workspace.id)
        # Killed each time after some more have arrived, so always in the middle of delivering.
        for arrived in (40, 160, 280):
            server = servers.start()
            deadline = time.monotonic() + 30
            while len(slow.change_ids()) < arrived:
                assert time.monotonic() < deadline, f"fewer than {arrived} arrived"
                await asyncio.sleep(0.01)
            server.kill()
            assert len(slow.change_ids()) < len(made)
        servers.start()
        await slow.wait_for(made, within=60)
    finally:
        slow.stop()
    assert slow.unverified == []
    # Every event has its delivery row, each recorded as delivered (once its answer is written).
    deadline = time.monotonic() + 30
    while True:
        delivered = await services.webhooks.deliveries(endpoint_id, workspace_id=None, limit=1000)
        statuses = {d.status for d in delivered}
        if statuses == {DeliveryStatus.DELIVERED} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert {d.change_id for d in delivered} == made
    assert statuses == {DeliveryStatus.DELIVERED}


async def test_two_servers_share_the_endpoints_and_never_send_an_event_twice_at_once(
    database_url: str, services: Services, tenant: Tenant, servers: Servers
) -> None:
    # Slow answers make a second send of an event in flight likely to overlap, if one happened.
    receiver = Receiver(answer=lambda _arrival: Answer(delay=0.01))
    endpoints = [
        await create_endpoint(database_url, tenant.workspace.id, f"{receiver.url}/{n}")
        for n in range(3)
    ]
    receiver.secrets.extend(secret for _, secret in endpoints)
    receiver.start()
    try:
        servers.start()
        servers.start()
        await make_changes(services, tenant, 150, prefix="pair")
        made = await change_ids(services, tenant.workspace.id)
        deadline = time.monotonic() + 60
        while len(receiver.arrivals) < 3 * len(made):
            assert time.monotonic() < deadline, "not everything arrived"
            await asyncio.sleep(0.1)
        owners = await lease_owners(services)
    finally:
        receiver.stop()
    assert receiver.overlaps == []
    ids = [a.webhook_id for a in receiver.arrivals]
    assert len(ids) == len(set(ids)) == 3 * len(made)
    # Each process holds some of the endpoints.
    assert len(owners) == 3
    assert len(set(owners)) == 2


async def lease_owners(services: Services) -> list[str | None]:
    async with services.db.snapshot() as conn:
        return list((await conn.execute(select(webhook_endpoints.c.lease_owner))).scalars())
