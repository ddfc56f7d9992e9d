"""POST /subscription/status/set (contract §4), through the real app, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from subgroups.container import Services
from tests.factories import Tenant

PATH = "/subscription/status/set"


async def post(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    return await client.post(PATH, json=body, headers=tenant.auth)


def body(group_id: str, state: str = "subscribed", **identifiers: Any) -> dict[str, Any]:
    return {"subscription_group_id": group_id, "subscription_state": state, **identifiers}


async def test_subscribes_a_new_external_id_and_records_the_change(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await post(client, tenant, body(tenant.email_group.id, external_id="user-1"))

    assert response.status_code == 201
    assert response.json() == {"message": "success"}
    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert (change.external_id, change.old_state, change.new_state.value) == (
        "user-1",
        None,
        "subscribed",
    )
    assert change.source.value == "REST API"
    assert change.request_id == response.headers["x-request-id"]
    assert change.client_ip == "203.0.113.7"


async def test_setting_the_same_state_again_records_nothing(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    for _ in range(2):
        response = await post(client, tenant, body(tenant.email_group.id, external_id="user-1"))
        assert response.status_code == 201

    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert len(changes) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subscription_group_id": None}, "subscription_group_id is required"),
        ({"subscription_group_id": 12}, "subscription_group_id is required"),
        (
            {"subscription_state": "maybe"},
            "subscription_state must be 'subscribed' or 'unsubscribed'",
        ),
        ({"subscription_group_id": "no-such-group"}, "Invalid subscription group ID"),
    ],
)
async def test_rejections_name_the_problem_and_change_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    overrides: dict[str, Any],
    message: str,
) -> None:
    request = {**body(tenant.email_group.id, external_id="user-1"), **overrides}
    request = {k: v for k, v in request.items() if v is not None}

    response = await post(client, tenant, request)

    assert response.status_code == 400
    assert response.json() == {"message": message}
    assert await services.subscriptions.changes(workspace_id=tenant.workspace.id) == []


async def test_an_invalid_email_rejects_the_whole_request(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await post(
        client, tenant, body(tenant.email_group.id, email=["good@example.com", "not-an-email"])
    )

    assert response.status_code == 400
    assert response.json() == {"message": "Invalid email address: 'not-an-email'"}
    assert (
        await services.subscriptions.profiles(
            workspace_id=tenant.workspace.id, kind="email", value="good@example.com"
        )
        == []
    )
