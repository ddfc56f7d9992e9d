"""GET /subscription/user/status (contract §6), through the real app, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from subgroups.container import Services
from subgroups.domain.models import Group
from tests.api.helpers import set_state
from tests.api.test_openapi import documented_messages
from tests.factories import Tenant, make_group, make_key
from tests.profiles import insert_profile

PATH = "/subscription/user/status"
NOT_UTF8 = "Query string must be valid UTF-8"
EMAIL_AND_PHONE = "Either an email address or a phone number should be provided, but not both."


async def get(client: httpx.AsyncClient, tenant: Tenant, query: str) -> httpx.Response:
    return await client.get(f"{PATH}?{query}", headers=tenant.auth)


def listed(group: Group, status: str) -> dict[str, str]:
    return {"id": group.id, "name": group.name, "channel": group.channel, "status": status}


def user(
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    groups: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "email": email,
        "phone": phone,
        "subscription_groups": groups or [],
    }


async def test_lists_each_profile_with_the_groups_it_has_a_state_in(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    never_used = await make_group(services, tenant.workspace.id)
    await set_state(
        client, tenant, tenant.email_group, "subscribed", external_id="u1", email="Ada@Example.com"
    )
    await set_state(client, tenant, tenant.sms_group, "unsubscribed", external_id="u1")

    response = await get(client, tenant, "external_id=u1")

    assert response.status_code == 200
    assert response.json() == {
        "users": [
            user(
                "u1",
                "ada@example.com",
                groups=[
                    listed(tenant.email_group, "Subscribed"),
                    listed(tenant.sms_group, "Unsubscribed"),
                ],
            )
        ],
        "total_count": 1,
        "message": "success",
    }
    assert never_used.id not in response.text


async def test_profiles_sharing_an_email_are_listed_separately_oldest_first(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    await set_state(
        client, tenant, tenant.email_group, "subscribed", external_id="b", email="team@example.com"
    )
    await insert_profile(services, tenant.workspace.id, external_id="a", email="team@example.com")
    await set_state(
        client,
        tenant,
        tenant.email_group,
        "unsubscribed",
        external_id="c",
        email="team@example.com",
    )

    response = await get(client, tenant, "email=TEAM@example.com")

    assert response.json() == {
        "users": [
            user("b", "team@example.com", groups=[listed(tenant.email_group, "Subscribed")]),
            user("a", "team@example.com"),
            user("c", "team@example.com", groups=[listed(tenant.email_group, "Unsubscribed")]),
        ],
        "total_count": 3,
        "message": "success",
    }


async def test_archived_groups_are_still_listed(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    await services.groups.archive(workspace_id=tenant.workspace.id, group_id=tenant.email_group.id)

    response = await get(client, tenant, "external_id=u1")

    assert response.json()["users"] == [
        user("u1", groups=[listed(tenant.email_group, "Subscribed")])
    ]


async def test_phones_are_read_back_with_their_plus(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.sms_group, "subscribed", phone="+14155552671")

    response = await get(client, tenant, "phone=+1%20415%20555%202671")

    assert response.json()["users"] == [
        user(phone="+14155552671", groups=[listed(tenant.sms_group, "Subscribed")])
    ]


async def test_external_ids_alone_are_looked_up_when_present(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    await insert_profile(services, tenant.workspace.id, external_id="u1")
    await insert_profile(services, tenant.workspace.id, email="ada@example.com")

    response = await get(client, tenant, "external_id[]=u1&email=ada@example.com&phone=x")

    assert response.json() == {"users": [user("u1")], "total_count": 1, "message": "success"}


async def test_nothing_matching_is_an_empty_page(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await get(client, tenant, "external_id=nobody")

    assert response.json() == {"users": [], "total_count": 0, "message": "success"}


class TestPaging:
    @pytest.fixture
    async def five(self, services: Services, tenant: Tenant) -> list[str]:
        ids = [f"u{n}" for n in range(5)]
        for external_id in ids:
            await insert_profile(services, tenant.workspace.id, external_id=external_id)
        return ids

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("", ["u0", "u1", "u2", "u3", "u4"]),
            ("&limit=2", ["u0", "u1"]),
            ("&limit=2&offset=2", ["u2", "u3"]),
            ("&offset=4", ["u4"]),
            ("&limit=100&offset=0", ["u0", "u1", "u2", "u3", "u4"]),
            ("&limit=001", ["u0"]),
            ("&offset=5", []),
            ("&offset=99999999999999999999999999999999", []),
        ],
    )
    async def test_limit_and_offset_page_over_the_matching_profiles(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        five: list[str],
        query: str,
        expected: list[str],
    ) -> None:
        everyone = "&".join(f"external_id={x}" for x in reversed(five))

        response = await get(client, tenant, everyone + query)

        body = response.json()
        assert response.status_code == 200
        assert [u["external_id"] for u in body["users"]] == expected
        assert body["total_count"] == 5


REFUSALS = [
    ("", "One of external_id, email or phone is required"),
    ("limit=5", "One of external_id, email or phone is required"),
    ("email=a@example.com&phone=%2B14155552671", EMAIL_AND_PHONE),
    ("external_id=", "external_id must be a non-empty string or a list of non-empty strings"),
    ("email=not-an-email", "Invalid email address: 'not-an-email'"),
    (
        "phone=4155552671",
        "Invalid phone number: '4155552671' (use E.164, for example +14155552671)",
    ),
    ("external_id=u&limit=0", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=101", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=-1", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=1.5", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=ten", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=%EF%BC%95", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=99999999999999999999", "limit must be a whole number from 1 to 100"),
    ("external_id=u&limit=1&limit=2", "limit must be given once"),
    ("external_id=u&offset=-1", "offset must be a whole number, 0 or more"),
    ("external_id=u&offset=%2B1", "offset must be a whole number, 0 or more"),
    ("external_id=u&offset=", "offset must be a whole number, 0 or more"),
    ("external_id=u&offset=1&offset=1", "offset must be given once"),
    # The identifiers are judged before the paging, whatever the paging's text.
    ("limit=ten", "One of external_id, email or phone is required"),
    ("email=not-an-email&offset=-1", "Invalid email address: 'not-an-email'"),
    ("external_id=u&limit=0&offset=-1", "limit must be a whole number from 1 to 100"),
]


async def test_refusals_name_the_problem(
    client: httpx.AsyncClient, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for query, message in REFUSALS:
        with subtests.test(msg=query):
            response = await get(client, tenant, query)

            assert (response.status_code, response.json()) == (400, {"message": message})


INVALID_UTF8 = [
    "external_id=%FF%FE",
    "email=a%C3@example.com",
    "external_id=u&limit=%FF",
    "external_id=u&unread=%80",
    # Before every other rule: a query that cannot be read names no identifier to judge.
    "limit=ten&offset=%FF",
]


async def test_a_query_that_is_not_utf8_is_refused_like_such_a_body(
    client: httpx.AsyncClient, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for query in INVALID_UTF8:
        with subtests.test(msg=query):
            response = await get(client, tenant, query)

            assert (response.status_code, response.json()) == (400, {"message": NOT_UTF8})
    assert NOT_UTF8 in documented_messages("GET", PATH, 400)


@pytest.mark.parametrize(
    ("field", "count", "message"),
    [
        ("external_id", 51, "The max number of external_ids and aliases per request was exceeded"),
        ("email", 51, "The max number of ids per request was exceeded"),
    ],
)
async def test_at_most_fifty_distinct_values(
    client: httpx.AsyncClient, tenant: Tenant, field: str, count: int, message: str
) -> None:
    values = [f"u{i}@example.com" for i in range(count)]

    too_many = await client.get(PATH, params={field: values}, headers=tenant.auth)
    enough = await client.get(PATH, params={field: values[:50]}, headers=tenant.auth)

    assert (too_many.status_code, too_many.json()) == (400, {"message": message})
    assert enough.status_code == 200


async def test_the_legacy_query_key_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    await insert_profile(services, tenant.workspace.id, external_id="u1")

    response = await client.get(PATH, params={"external_id": "u1", "api_key": tenant.key})

    assert response.json()["total_count"] == 1


async def test_no_key_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(PATH, params={"external_id": "u1"})

    assert (response.status_code, response.json()) == (401, {"message": "Invalid API key"})


async def test_a_key_without_the_groups_permission_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    key = await make_key(
        services,
        tenant.workspace.id,
        permissions=["subscription.status.get", "subscription.status.set"],
    )

    response = await client.get(
        PATH, params={"external_id": "u1"}, headers={"Authorization": f"Bearer {key}"}
    )

    assert (response.status_code, response.json()) == (
        403,
        {"message": "Access Denied: this API key lacks the 'subscription.groups.get' permission"},
    )


async def test_another_workspaces_profiles_and_groups_are_never_listed(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await set_state(
        client,
        other_tenant,
        other_tenant.email_group,
        "subscribed",
        external_id="u1",
        email="a@example.com",
    )
    await set_state(client, tenant, tenant.sms_group, "subscribed", external_id="u1")

    by_id = await get(client, tenant, "external_id=u1")
    by_email = await get(client, tenant, "email=a@example.com")

    assert by_id.json() == {
        "users": [user("u1", groups=[listed(tenant.sms_group, "Subscribed")])],
        "total_count": 1,
        "message": "success",
    }
    assert by_email.json() == {"users": [], "total_count": 0, "message": "success"}
