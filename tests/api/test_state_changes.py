"""The audit trail a set request leaves (contract §7), on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import Channel, Source, State
from subgroups.web.app import create_app
from tests.api.helpers import TEST_CLIENT_IP, body, post
from tests.factories import Tenant, make_tenant
from tests.readback import all_profiles

# Two hours east of UTC, with microseconds: the record must hold the same instant, in UTC, exactly.
LOCAL_NOON = datetime(2026, 3, 4, 12, 6, 7, 890123, tzinfo=timezone(timedelta(hours=2)))


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    """Services whose clock reads LOCAL_NOON, and a client of an app over them."""
    services = build_services(settings, clock=FixedClock(LOCAL_NOON))
    transport = httpx.ASGITransport(
        app=create_app(settings, services), client=(TEST_CLIENT_IP, 50000)
    )
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield services, http
    finally:
        await services.aclose()


@pytest.mark.parametrize(
    ("channel", "identifiers", "contact"),
    [
        ("email", {"external_id": "u1", "email": "A@example.com"}, ("a@example.com", None)),
        ("sms", {"external_id": "u1", "phone": "+1 222 333 4444"}, (None, "+12223334444")),
    ],
)
async def test_a_change_is_recorded_with_every_field(
    clocked: tuple[Services, httpx.AsyncClient],
    channel: Channel,
    identifiers: dict[str, str],
    contact: tuple[str | None, str | None],
) -> None:
    services, client = clocked
    tenant = await make_tenant(services)
    group = tenant.email_group if channel == "email" else tenant.sms_group
    [key] = await services.keys.list(workspace_id=tenant.workspace.id)

    response = await post(client, tenant, body(group.id, **identifiers))

    assert response.status_code == 201
    [profile] = await all_profiles(services, tenant.workspace.id)
    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert change == replace(
        change,
        workspace_id=tenant.workspace.id,
        profile_id=profile["id"],
        external_id="u1",
        email=contact[0],
        phone=contact[1],
        subscription_group_id=group.id,
        channel=channel,
        old_state=None,
        new_state=State.SUBSCRIBED,
        occurred_at=LOCAL_NOON,
        source=Source.REST_API,
        api_key_id=key.id,
        request_id=response.headers["x-request-id"],
        client_ip=TEST_CLIENT_IP,
    )
    assert isinstance(change.id, int)
    assert change.occurred_at.utcoffset() == timedelta(0)
    assert (change.occurred_at.hour, change.occurred_at.microsecond) == (10, 890123)


async def test_each_real_change_appends_one_record_and_a_no_op_none(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    sequence = ["subscribed", "subscribed", "unsubscribed", "unsubscribed", "subscribed"]
    request_ids = []
    for state in sequence:
        response = await post(client, tenant, body(tenant.email_group.id, state, external_id="u"))
        assert response.status_code == 201
        request_ids.append(response.headers["x-request-id"])

    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)

    assert [(c.old_state, c.new_state) for c in changes] == [
        (None, State.SUBSCRIBED),
        (State.SUBSCRIBED, State.UNSUBSCRIBED),
        (State.UNSUBSCRIBED, State.SUBSCRIBED),
    ]
    assert [c.request_id for c in changes] == [request_ids[0], request_ids[2], request_ids[4]]
    ids = [c.id for c in changes]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_one_record_for_each_profile_that_really_changes(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    group = tenant.email_group.id
    await post(client, tenant, body(group, external_id="b"))

    response = await post(client, tenant, body(group, external_id=["a", "b", "c"]))

    assert response.status_code == 201
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert [(c.external_id, c.request_id) for c in changes[1:]] == [
        ("a", response.headers["x-request-id"]),
        ("c", response.headers["x-request-id"]),
    ]
    assert changes[0].id < changes[1].id < changes[2].id


async def test_each_group_keeps_its_own_history(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    other = await services.groups.create(
        workspace_id=tenant.workspace.id, name="second email group", channel="email"
    )
    for group in (tenant.email_group.id, other.id, tenant.email_group.id):
        await post(client, tenant, body(group, "unsubscribed", external_id="u"))

    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)

    assert [(c.subscription_group_id, c.old_state) for c in changes] == [
        (tenant.email_group.id, None),
        (other.id, None),
    ]


async def test_records_are_never_rewritten_by_later_changes(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    group = tenant.email_group.id
    await post(client, tenant, body(group, external_id="u1"))
    [first] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)

    await post(client, tenant, body(group, "unsubscribed", external_id="u1", email="a@example.com"))
    await post(client, tenant, body(group, "subscribed", email="a@example.com"))

    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert changes[0] == first
    assert [(c.email, c.new_state) for c in changes] == [
        (None, State.SUBSCRIBED),
        ("a@example.com", State.UNSUBSCRIBED),
        ("a@example.com", State.SUBSCRIBED),
    ]


async def test_a_workspace_sees_only_its_own_records(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    other = await make_tenant(services)
    await post(client, tenant, body(tenant.email_group.id, external_id="same"))
    await post(client, other, body(other.email_group.id, external_id="same"))
    await post(client, tenant, body(tenant.email_group.id, "unsubscribed", external_id="same"))

    mine = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    theirs = await services.subscriptions.changes(workspace_id=other.workspace.id)

    assert [c.workspace_id for c in mine] == [tenant.workspace.id] * 2
    assert [c.workspace_id for c in theirs] == [other.workspace.id]
    assert {c.profile_id for c in mine}.isdisjoint({c.profile_id for c in theirs})
    assert mine[0].id < mine[1].id


async def test_occurred_at_is_the_clock_of_the_request_in_utc(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    before = datetime.now(UTC)
    await post(client, tenant, body(tenant.email_group.id, external_id="u"))
    after = datetime.now(UTC)

    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)

    assert change.occurred_at.tzinfo is not None
    assert change.occurred_at.utcoffset() == timedelta(0)
    assert before <= change.occurred_at <= after
