"""What the set endpoints write, the read endpoints read back: one workspace's story, end to end."""

from __future__ import annotations

from typing import Any

import httpx

from subgroups.container import Services
from tests.factories import Tenant, make_group
from tests.profiles import insert_profile


async def post(client: httpx.AsyncClient, tenant: Tenant, path: str, body: dict[str, Any]) -> None:
    response = await client.post(path, json=body, headers=tenant.auth)
    assert response.status_code == 201, response.text


async def statuses(
    client: httpx.AsyncClient, tenant: Tenant, group_id: str, **identifiers: list[str]
) -> dict[str, str]:
    params = {"subscription_group_id": group_id, **identifiers}
    response = await client.get("/subscription/status/get", params=params, headers=tenant.auth)
    assert response.status_code == 200, response.text
    answer: dict[str, str] = response.json()["status"]
    return answer


async def users(client: httpx.AsyncClient, tenant: Tenant, **identifiers: list[str]) -> Any:
    response = await client.get(
        "/subscription/user/status", params=identifiers, headers=tenant.auth
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_states_written_by_v1_and_v2_are_read_back_by_both_read_endpoints(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    news, sms = tenant.email_group, tenant.sms_group
    offers = await make_group(services, tenant.workspace.id, name="Offers")
    # Three profiles share one email; a fourth profile has no state anywhere.
    for external_id in ("ann", "ben", "cat"):
        await post(
            client,
            tenant,
            "/subscription/status/set",
            {
                "subscription_group_id": offers.id,
                "subscription_state": "subscribed",
                "external_id": external_id,
                "email": "family@example.com",
            },
        )
    await insert_profile(
        services, tenant.workspace.id, external_id="dan", email="family@example.com"
    )
    await post(
        client,
        tenant,
        "/v2/subscription/status/set",
        {
            "subscription_groups": [
                {
                    "subscription_group_id": news.id,
                    "subscription_state": "unsubscribed",
                    "external_ids": ["ann", "ben"],
                },
                {
                    "subscription_group_id": news.id,
                    "subscription_state": "subscribed",
                    "external_id": "cat",
                },
                {
                    "subscription_group_id": sms.id,
                    "subscription_state": "subscribed",
                    "external_ids": ["ann"],
                },
                {
                    "subscription_group_id": offers.id,
                    "subscription_state": "unsubscribed",
                    "external_ids": ["ben"],
                },
            ]
        },
    )
    await post(
        client,
        tenant,
        "/subscription/status/set",
        {
            "subscription_group_id": sms.id,
            "subscription_state": "unsubscribed",
            "phone": "+14155552671",
        },
    )

    assert await statuses(
        client, tenant, news.id, external_id=["ann", "ben", "cat", "dan", "eve"]
    ) == {
        "ann": "Unsubscribed",
        "ben": "Unsubscribed",
        "cat": "Subscribed",
        "dan": "Unknown",
        "eve": "Unknown",
    }
    # The shared email answers for all four profiles: one of them is subscribed.
    assert await statuses(client, tenant, news.id, email=["Family@example.com"]) == {
        "Family@example.com": "Subscribed"
    }
    assert await statuses(client, tenant, sms.id, phone=["+14155552671", "+14155550000"]) == {
        "+14155552671": "Unsubscribed",
        "+14155550000": "Unknown",
    }

    def entry(group_id: str, status: str) -> tuple[str, str]:
        return group_id, status

    page = await users(client, tenant, email=["family@example.com"])
    assert page["total_count"] == 4
    assert [
        (u["external_id"], [entry(g["id"], g["status"]) for g in u["subscription_groups"]])
        for u in page["users"]
    ] == [
        (
            "ann",
            [
                entry(news.id, "Unsubscribed"),
                entry(sms.id, "Subscribed"),
                entry(offers.id, "Subscribed"),
            ],
        ),
        ("ben", [entry(news.id, "Unsubscribed"), entry(offers.id, "Unsubscribed")]),
        ("cat", [entry(news.id, "Subscribed"), entry(offers.id, "Subscribed")]),
        ("dan", []),
    ]
    phone_page = await users(client, tenant, phone=["+14155552671"])
    assert phone_page["users"] == [
        {
            "external_id": None,
            "email": None,
            "phone": "+14155552671",
            "subscription_groups": [
                {"id": sms.id, "name": sms.name, "channel": "sms", "status": "Unsubscribed"}
            ],
        }
    ]
