"""What waits to be delivered, as `WebhookService.backlog()` reports it (the figure the delivery
benchmark samples): changes an endpoint has not had yet count from the moment they happened,
whether or not a dispatcher has queued them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from subgroups.container import Services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from tests.webhooks.conftest import Tenant


async def change(services: Services, tenant: Tenant, state: str) -> None:
    await services.subscriptions.set_states(
        workspace_id=tenant.workspace.id,
        requests=[GroupRequest(tenant.group.id, state, external_id=["backlog-1"])],
        actor=Actor(Source.CLI),
    )


async def test_nothing_waits_without_an_endpoint(services: Services, tenant: Tenant) -> None:
    await change(services, tenant, "subscribed")
    found = await services.webhooks.backlog()
    assert (found.pending, found.failed, found.oldest_undelivered_at) == (0, 0, None)


async def test_a_change_not_yet_queued_counts_from_when_it_happened(
    services: Services, tenant: Tenant
) -> None:
    made = await services.webhooks.create(
        workspace_id=tenant.workspace.id, url="https://hooks.example.com/subgroups"
    )
    assert (await services.webhooks.backlog()).oldest_undelivered_at is None
    before = datetime.now(UTC)
    await change(services, tenant, "subscribed")
    await change(services, tenant, "unsubscribed")
    after = datetime.now(UTC)
    found = await services.webhooks.backlog()
    assert found.oldest_undelivered_at is not None
    assert before <= found.oldest_undelivered_at <= after
    assert (found.pending, found.failed) == (0, 0)
    # A disabled endpoint waits for nothing.
    await services.webhooks.disable(made.endpoint.id, workspace_id=tenant.workspace.id)
    assert (await services.webhooks.backlog()).oldest_undelivered_at is None


async def test_a_queued_change_counts_from_when_it_happened(
    services: Services, tenant: Tenant
) -> None:
    await services.webhooks.create(
        workspace_id=tenant.workspace.id, url="https://hooks.example.com/subgroups"
    )
    await change(services, tenant, "subscribed")
    await change(services, tenant, "unsubscribed")
    changes = await services.change_feed.changes(tenant.workspace.id, after=0, limit=10)
    now = datetime.now(UTC)
    [endpoint] = await services.webhook_queue.claim(
        owner="test", now=now, until=now + timedelta(minutes=1), limit=10
    )
    cursor = await services.webhook_queue.enqueue(
        endpoint, owner="test", change_ids=[c.id for c in changes], cursor=changes[-1].id, at=now
    )
    assert cursor == changes[-1].id
    found = await services.webhooks.backlog()
    assert found.pending == len(changes) == 2
    assert found.oldest_undelivered_at == changes[0].occurred_at
