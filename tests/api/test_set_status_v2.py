"""POST /v2/subscription/status/set (contract §5), through the real app, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import State
from tests.factories import Tenant, make_group, make_key

PATH = "/v2/subscription/status/set"
EMAIL_AND_PHONE = "Either an email address or a phone number should be provided, but not both."


async def post(client: httpx.AsyncClient, tenant: Tenant, body: object) -> httpx.Response:
    return await client.post(PATH, json=body, headers=tenant.auth)


def item(group_id: str, state: str = "subscribed", **identifiers: Any) -> dict[str, Any]:
    return {"subscription_group_id": group_id, "subscription_state": state, **identifiers}


async def states(services: Services, tenant: Tenant, external_id: str) -> dict[str, State]:
    """The profile's states by group id, read through the service (not the endpoints under test)."""
    found = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="external_id", value=external_id
    )
    return {s.group_id: s.state for p in found for s in p.subscriptions}


async def assert_nothing_changed(services: Services, tenant: Tenant) -> None:
    assert await services.subscriptions.changes(workspace_id=tenant.workspace.id) == []


async def test_applies_every_group_object_and_records_each_change(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, external_ids=["user-1", "user-2"]),
            item(tenant.sms_group.id, "unsubscribed", external_ids=["user-1"]),
        ]
    }

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (201, {"message": "success"})
    assert await states(services, tenant, "user-1") == {
        tenant.email_group.id: State.SUBSCRIBED,
        tenant.sms_group.id: State.UNSUBSCRIBED,
    }
    assert await states(services, tenant, "user-2") == {tenant.email_group.id: State.SUBSCRIBED}
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert len(changes) == 3
    assert {c.request_id for c in changes} == {response.headers["x-request-id"]}
    assert {c.source.value for c in changes} == {"REST API"}


async def test_emails_and_phones_select_profiles_like_v1(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {"subscription_groups": [item(tenant.email_group.id, emails=["Ada@Example.com"])]}

    response = await post(client, tenant, body)

    assert response.status_code == 201
    [profile] = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="email", value="ada@example.com"
    )
    assert [(s.group_id, s.state) for s in profile.subscriptions] == [
        (tenant.email_group.id, State.SUBSCRIBED)
    ]


@pytest.mark.parametrize(
    "identifiers",
    [
        {"external_id": "user-1"},
        {"external_id": ["user-1"]},
        {"external_ids": "user-1"},
    ],
)
async def test_singular_names_and_bare_strings_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, identifiers: dict[str, Any]
) -> None:
    response = await post(
        client, tenant, {"subscription_groups": [item(tenant.email_group.id, **identifiers)]}
    )

    assert response.status_code == 201
    assert await states(services, tenant, "user-1") == {tenant.email_group.id: State.SUBSCRIBED}


async def test_the_phone_alias_reaches_an_sms_group(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {"subscription_groups": [item(tenant.sms_group.id, phone="+1 (415) 555-2671")]}

    response = await post(client, tenant, body)

    assert response.status_code == 201
    [profile] = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="phone", value="+14155552671"
    )
    assert [s.group_id for s in profile.subscriptions] == [tenant.sms_group.id]


async def test_objects_apply_in_order_so_a_later_one_for_the_same_group_wins(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, "subscribed", external_ids=["user-1"]),
            item(tenant.email_group.id, "unsubscribed", external_ids=["user-1"]),
        ]
    }

    response = await post(client, tenant, body)

    assert response.status_code == 201
    assert await states(services, tenant, "user-1") == {tenant.email_group.id: State.UNSUBSCRIBED}
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert [(c.old_state, c.new_state) for c in changes] == [
        (None, State.SUBSCRIBED),
        (State.SUBSCRIBED, State.UNSUBSCRIBED),
    ]


async def test_twenty_five_objects_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, external_ids=[f"user-{i}"]) for i in range(25)
        ]
    }

    response = await post(client, tenant, body)

    assert response.status_code == 201
    assert len(await services.subscriptions.changes(workspace_id=tenant.workspace.id)) == 25


MALFORMED_LISTS: list[tuple[dict[str, Any], str]] = [
    ({}, "subscription_groups is required"),
    ({"subscription_groups": None}, "subscription_groups is required"),
    (
        {"subscription_groups": []},
        "subscription_groups must be a list of 1 to 25 subscription group objects",
    ),
    (
        {"subscription_groups": {"subscription_group_id": "x"}},
        "subscription_groups must be a list of 1 to 25 subscription group objects",
    ),
    (
        {"subscription_groups": "x"},
        "subscription_groups must be a list of 1 to 25 subscription group objects",
    ),
]


async def test_a_missing_or_malformed_list_names_the_field(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, subtests: pytest.Subtests
) -> None:
    for body, message in MALFORMED_LISTS:
        with subtests.test(msg=repr(body)):
            response = await post(client, tenant, body)

            assert (response.status_code, response.json()) == (400, {"message": message})
            await assert_nothing_changed(services, tenant)


async def test_more_than_twenty_five_objects_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, external_ids=[f"user-{i}"]) for i in range(26)
        ]
    }

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (
        400,
        {"message": "At most 25 subscription groups per request"},
    )
    await assert_nothing_changed(services, tenant)


async def test_an_object_that_is_not_an_object_is_named_by_position(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"subscription_groups": [item(tenant.email_group.id, external_ids=["u"]), "oops"]}

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (
        400,
        {"message": "subscription_groups[1]: a subscription group must be a JSON object"},
    )


async def test_emails_and_phones_in_different_objects_are_refused_with_brazes_text(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, emails=["ada@example.com"]),
            item(tenant.sms_group.id, phones=["+14155552671"]),
        ]
    }

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (400, {"message": EMAIL_AND_PHONE})
    await assert_nothing_changed(services, tenant)


async def test_emails_and_phones_in_one_object_get_the_same_text(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, email="ada@example.com", phones=["+14155552671"])
        ]
    }

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (400, {"message": EMAIL_AND_PHONE})


async def test_the_first_failing_object_is_reported_and_nothing_is_applied(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, external_ids=["user-1"]),
            item(tenant.sms_group.id, external_ids=["user-1"]),
            item("no-such-group", external_ids=["user-1"]),
            item(tenant.email_group.id, "maybe", external_ids=["user-1"]),
        ]
    }

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (
        400,
        {"message": "subscription_groups[2]: Invalid subscription group ID"},
    )
    await assert_nothing_changed(services, tenant)
    assert await states(services, tenant, "user-1") == {}


OBJECT_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"subscription_group_id": None}, "subscription_group_id is required"),
    (
        {"subscription_state": "maybe"},
        "subscription_state must be 'subscribed' or 'unsubscribed'",
    ),
    ({"external_ids": None}, "One of external_id or email is required"),
    ({"emails": ["not-an-email"]}, "Invalid email address: 'not-an-email'"),
    (
        {"phones": ["+14155552671"]},
        "Phone numbers cannot be used with an email subscription group; use external_id or email",
    ),
    (
        {"external_ids": []},
        "external_ids must be a non-empty string or a list of non-empty strings",
    ),
    (
        {"external_ids": None, "external_id": ""},
        "external_id must be a non-empty string or a list of non-empty strings",
    ),
    (
        {"external_ids": None, "emails": [""]},
        "emails must be a non-empty string or a list of non-empty strings",
    ),
    (
        {"external_ids": None, "email": 7},
        "email must be a non-empty string or a list of non-empty strings",
    ),
    (
        {"external_id": "user-9"},
        "external_ids and external_id are the same field: send only one of them",
    ),
    (
        {"external_ids": [f"u{i}" for i in range(51)]},
        "The max number of external_ids and aliases per request was exceeded",
    ),
    (
        {"emails": [f"u{i}@example.com" for i in range(51)]},
        "The max number of ids per request was exceeded",
    ),
]


async def test_an_object_level_error_carries_the_objects_position(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, subtests: pytest.Subtests
) -> None:
    for bad, message in OBJECT_ERRORS:
        with subtests.test(msg=message):
            broken = {**item(tenant.email_group.id, external_ids=["user-1"]), **bad}
            body = {
                "subscription_groups": [
                    item(tenant.sms_group.id, external_ids=["user-1"]),
                    {k: v for k, v in broken.items() if v is not None},
                ]
            }

            response = await post(client, tenant, body)

            assert (response.status_code, response.json()) == (
                400,
                {"message": f"subscription_groups[1]: {message}"},
            )
            await assert_nothing_changed(services, tenant)


async def test_fifty_ids_per_list_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, external_ids=[f"user-{i}" for i in range(50)]),
            item(tenant.email_group.id, emails=[f"u{i}@example.com" for i in range(50)]),
        ]
    }

    response = await post(client, tenant, body)

    assert response.status_code == 201
    assert len(await services.subscriptions.changes(workspace_id=tenant.workspace.id)) == 100


async def test_an_archived_group_is_refused_by_position(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    archived = await make_group(services, tenant.workspace.id)
    await services.groups.archive(workspace_id=tenant.workspace.id, group_id=archived.id)
    body = {
        "subscription_groups": [
            item(tenant.email_group.id, external_ids=["user-1"]),
            item(archived.id, external_ids=["user-1"]),
        ]
    }

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (
        400,
        {
            "message": f"subscription_groups[1]: Subscription group '{archived.id}'"
            " is archived and cannot be changed"
        },
    )
    await assert_nothing_changed(services, tenant)


async def test_another_workspaces_group_is_an_invalid_group(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, services: Services
) -> None:
    body = {"subscription_groups": [item(other_tenant.email_group.id, external_ids=["u"])]}

    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (
        400,
        {"message": "subscription_groups[0]: Invalid subscription group ID"},
    )
    await assert_nothing_changed(services, other_tenant)


async def test_a_key_without_the_set_permission_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    key = await make_key(services, tenant.workspace.id, permissions=["subscription.status.get"])
    body = {"subscription_groups": [item(tenant.email_group.id, external_ids=["u"])]}

    response = await client.post(PATH, json=body, headers={"Authorization": f"Bearer {key}"})

    assert (response.status_code, response.json()) == (
        403,
        {"message": "Access Denied: this API key lacks the 'subscription.status.set' permission"},
    )
    await assert_nothing_changed(services, tenant)


async def test_no_key_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"subscription_groups": [item(tenant.email_group.id, external_ids=["u"])]}

    response = await client.post(PATH, json=body)

    assert (response.status_code, response.json()) == (401, {"message": "Invalid API key"})


async def test_the_legacy_body_key_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    body = {
        "api_key": tenant.key,
        "subscription_groups": [item(tenant.email_group.id, external_ids=["user-1"])],
    }

    response = await client.post(PATH, json=body)

    assert response.status_code == 201
    assert await states(services, tenant, "user-1") == {tenant.email_group.id: State.SUBSCRIBED}


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"[1, 2]", "application/json", 400, "Request body must be a JSON object"),
        (b"{nope", "application/json", 400, "Request body must be a JSON object"),
        (b"{}", "text/plain", 415, "Unsupported Media Type"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused(
    client: httpx.AsyncClient,
    tenant: Tenant,
    content: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    headers = {**tenant.auth, "Content-Type": content_type}

    response = await client.post(PATH, content=content, headers=headers)

    assert (response.status_code, response.json()) == (status, {"message": message})


async def test_a_group_archived_by_another_process_is_refused_by_position_at_the_write(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, settings: Settings
) -> None:
    """This process still remembers the group as active; the write itself finds it archived."""
    body = {
        "subscription_groups": [
            item(tenant.sms_group.id, external_ids=["user-1"]),
            item(tenant.email_group.id, external_ids=["user-1"]),
        ]
    }
    assert (await post(client, tenant, body)).status_code == 201  # both groups now remembered
    other = build_services(settings)
    try:
        await other.groups.archive(workspace_id=tenant.workspace.id, group_id=tenant.email_group.id)
    finally:
        await other.aclose()
    before = await services.subscriptions.changes(workspace_id=tenant.workspace.id)

    body["subscription_groups"] = [
        item(tenant.sms_group.id, "unsubscribed", external_ids=["user-1"]),
        item(tenant.email_group.id, "unsubscribed", external_ids=["user-1"]),
    ]
    response = await post(client, tenant, body)

    assert (response.status_code, response.json()) == (
        400,
        {
            "message": f"subscription_groups[1]: Subscription group '{tenant.email_group.id}'"
            " is archived and cannot be changed"
        },
    )
    assert await services.subscriptions.changes(workspace_id=tenant.workspace.id) == before
