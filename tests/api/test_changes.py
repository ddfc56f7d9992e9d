"""GET /changes (contract §9, pull), through the real app, on both backends."""

from __future__ import annotations

import httpx
import pytest

from subgroups.container import Services
from tests.api.helpers import set_state
from tests.factories import Tenant, make_key

PATH = "/changes"


async def get(client: httpx.AsyncClient, auth: dict[str, str], query: str = "") -> httpx.Response:
    return await client.get(f"{PATH}?{query}", headers=auth)


async def test_a_reader_looping_on_next_after_gets_every_record_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for person in ("u1", "u2", "u3"):
        await set_state(client, tenant, tenant.email_group, "subscribed", external_id=person)
    await set_state(client, tenant, tenant.email_group, "unsubscribed", external_id="u1")

    seen: list[dict[str, object]] = []
    after, pages = 0, 0
    while True:
        response = await get(client, tenant.auth, f"after={after}&limit=3")
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["changes"]
        after, pages = body["next_after"], pages + 1
        if not body["has_more"]:
            break

    assert pages == 2
    assert [(c["external_id"], c["old_state"], c["new_state"]) for c in seen] == [
        ("u1", None, "subscribed"),
        ("u2", None, "subscribed"),
        ("u3", None, "subscribed"),
        ("u1", "subscribed", "unsubscribed"),
    ]
    assert after == seen[-1]["id"]
    again = (await get(client, tenant.auth, f"after={after}")).json()
    assert again == {"changes": [], "next_after": after, "has_more": False, "message": "success"}


async def test_a_record_carries_the_fields_of_the_audit_trail(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {
        "subscription_group_id": tenant.email_group.id,
        "subscription_state": "subscribed",
        "external_id": "u1",
        "email": "a@example.com",
    }
    sent = await client.post("/subscription/status/set", json=body, headers=tenant.auth)

    [record] = (await get(client, tenant.auth)).json()["changes"]

    assert set(record) == {
        "id",
        "workspace_id",
        "profile_id",
        "external_id",
        "email",
        "phone",
        "subscription_group_id",
        "channel",
        "old_state",
        "new_state",
        "occurred_at",
        "source",
        "api_key_id",
        "request_id",
        "client_ip",
        "user_agent",
        "reason",
        "reason_detail",
        "import_id",
        "consented_at",
        "consent_source",
    }
    # The person's own fields (§11) and an import's (§10) are null on a change the API made.
    assert (record["user_agent"], record["reason"], record["reason_detail"]) == (None, None, None)
    assert (record["import_id"], record["consented_at"], record["consent_source"]) == (
        None,
        None,
        None,
    )
    assert record["workspace_id"] == tenant.workspace.id
    assert (record["email"], record["phone"], record["channel"]) == ("a@example.com", None, "email")
    assert record["subscription_group_id"] == tenant.email_group.id
    assert record["source"] == "REST API"
    assert record["request_id"] == sent.headers["x-request-id"]
    assert str(record["occurred_at"]).endswith("+00:00")


async def test_another_workspaces_records_are_never_in_the_feed(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await set_state(client, other_tenant, other_tenant.email_group, "subscribed", external_id="x")

    body = (await get(client, tenant.auth)).json()

    assert (body["changes"], body["next_after"]) == ([], 0)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("after=-1", "after must be a whole number, 0 or more"),
        ("after=abc", "after must be a whole number, 0 or more"),
        ("after=99999999999999999999", "after must be a whole number, 0 or more"),
        ("limit=0", "limit must be a whole number from 1 to 1000"),
        ("limit=1001", "limit must be a whole number from 1 to 1000"),
        ("limit=ten", "limit must be a whole number from 1 to 1000"),
    ],
)
async def test_bad_paging_is_a_400_naming_the_parameter(
    client: httpx.AsyncClient, tenant: Tenant, query: str, message: str
) -> None:
    response = await get(client, tenant.auth, query)

    assert (response.status_code, response.json()) == (400, {"message": message})


async def test_the_feed_needs_the_changes_permission(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    status_only = await make_key(
        services, tenant.workspace.id, permissions=["subscription.status.get"]
    )

    refused = await get(client, {"Authorization": f"Bearer {status_only}"})
    anonymous = await client.get(PATH)

    assert (refused.status_code, refused.json()) == (
        403,
        {"message": "Access Denied: this API key lacks the 'changes.get' permission"},
    )
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "Invalid API key"})
