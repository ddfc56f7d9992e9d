"""Authentication and permissions of the v1 set endpoint (contract §2, §4 step 1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services
from tests.api.helpers import INVALID_KEY, PATH, TEST_CLIENT_IP, body, client_at
from tests.factories import Tenant, make_key, make_tenant
from tests.readback import row_counts

SET = "subscription.status.set"


def valid(tenant: Tenant) -> dict[str, Any]:
    return body(tenant.email_group.id, external_id="user-1")


async def key_id(services: Services, tenant: Tenant) -> int:
    [key] = await services.keys.list(workspace_id=tenant.workspace.id)
    return key.id


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_a_bearer_header_authenticates_whatever_the_scheme_case(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, scheme: str
) -> None:
    response = await client.post(
        PATH, json=valid(tenant), headers={"Authorization": f"{scheme} {tenant.key}"}
    )

    assert (response.status_code, response.json()) == (201, {"message": "success"})
    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert change.api_key_id == await key_id(services, tenant)


async def test_the_legacy_body_field_authenticates(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await client.post(PATH, json={**valid(tenant), "api_key": tenant.key})

    assert (response.status_code, response.json()) == (201, {"message": "success"})
    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert change.api_key_id == await key_id(services, tenant)


async def test_the_legacy_query_parameter_authenticates(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await client.post(PATH, json=valid(tenant), params={"api_key": tenant.key})

    assert (response.status_code, response.json()) == (201, {"message": "success"})
    assert len(await services.subscriptions.changes(workspace_id=tenant.workspace.id)) == 1


@pytest.mark.parametrize(
    ("header", "in_body", "in_query", "status"),
    [
        # The header is checked even when the body (or query) carries a good key.
        ("wrong", "good", None, 401),
        ("wrong", None, "good", 401),
        ("good", "wrong", "wrong", 201),
        # Without a header, the body comes before the query.
        (None, "wrong", "good", 401),
        (None, "good", "wrong", 201),
        # A body field that is present but empty or not a string is the one checked, and fails.
        (None, "", "good", 401),
        (None, 12345, "good", 401),
    ],
)
async def test_the_first_key_present_is_the_one_checked(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    header: str | None,
    in_body: object,
    in_query: str | None,
    status: int,
) -> None:
    def secret(which: object) -> object:
        return {"good": tenant.key, "wrong": "sgk_" + "x" * 43}.get(str(which), which)

    payload = valid(tenant)
    if in_body is not None:
        payload["api_key"] = secret(in_body)
    headers = {"Authorization": f"Bearer {secret(header)}"} if header else {}
    params = {"api_key": str(secret(in_query))} if in_query else {}

    response = await client.post(PATH, json=payload, headers=headers, params=params)

    assert response.status_code == status
    written = len(await services.subscriptions.changes(workspace_id=tenant.workspace.id))
    if status == 401:
        assert response.json() == INVALID_KEY
        assert written == 0
    else:
        assert written == 1


MALFORMED = [
    "Bearer sgk_unknownunknownunknownunknownunknownunknown1",
    "Bearer",
    "Bearer ",
    "Token {key}",
    "Basic {key}",
    "{key}",
    "Bearer {key}x",
    "Bearer {key_without_prefix}",
    "Bearer sgk_" + "a" * 200,
]


async def test_unknown_or_malformed_keys_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, subtests: pytest.Subtests
) -> None:
    before = await row_counts(services)
    for authorization in MALFORMED:
        with subtests.test(msg=authorization):
            header = authorization.format(key=tenant.key, key_without_prefix=tenant.key[4:])

            response = await client.post(
                PATH, json=valid(tenant), headers={"Authorization": header}
            )

            assert (response.status_code, response.json()) == (401, INVALID_KEY)
            assert await row_counts(services) == before


async def test_a_request_without_any_key_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await client.post(PATH, json=valid(tenant))

    assert (response.status_code, response.json()) == (401, INVALID_KEY)
    assert await services.subscriptions.changes(workspace_id=tenant.workspace.id) == []


async def test_a_revoked_key_is_refused_in_every_form(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    await services.keys.revoke(
        key_id=await key_id(services, tenant), workspace_id=tenant.workspace.id
    )

    responses = [
        await client.post(PATH, json=valid(tenant), headers=tenant.auth),
        await client.post(PATH, json={**valid(tenant), "api_key": tenant.key}),
        await client.post(PATH, json=valid(tenant), params={"api_key": tenant.key}),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(401, INVALID_KEY)] * 3
    assert await services.subscriptions.changes(workspace_id=tenant.workspace.id) == []


@pytest.mark.parametrize(
    "permissions",
    [
        ["subscription.status.get"],
        ["subscription.groups.get"],
        ["subscription.status.get", "subscription.groups.get"],
    ],
)
async def test_a_key_without_the_set_permission_is_denied(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, permissions: list[str]
) -> None:
    key = await make_key(services, tenant.workspace.id, permissions=permissions)

    response = await client.post(
        PATH, json=valid(tenant), headers={"Authorization": f"Bearer {key}"}
    )

    assert response.status_code == 403
    assert response.json() == {
        "message": "Access Denied: this API key lacks the 'subscription.status.set' permission"
    }
    assert await services.subscriptions.changes(workspace_id=tenant.workspace.id) == []


async def test_a_key_with_only_the_set_permission_may_set(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    key = await make_key(services, tenant.workspace.id, permissions=[SET])

    response = await client.post(
        PATH, json=valid(tenant), headers={"Authorization": f"Bearer {key}"}
    )

    assert (response.status_code, response.json()) == (201, {"message": "success"})


IP_DENIED = {"message": "Access Denied: this IP address is not allowed for this API key"}


ALLOWLISTS = [
    (TEST_CLIENT_IP, [TEST_CLIENT_IP], 201),
    (TEST_CLIENT_IP, ["203.0.113.0/24"], 201),
    (TEST_CLIENT_IP, ["198.51.100.0/24", "203.0.113.7/32"], 201),
    (TEST_CLIENT_IP, ["203.0.113.8"], 403),
    (TEST_CLIENT_IP, ["198.51.100.0/24"], 403),
    (TEST_CLIENT_IP, ["2001:db8::/32"], 403),
    ("2001:db8::5", ["2001:db8::/32"], 201),
    ("2001:db8::5", ["2001:db8::5"], 201),
    ("2001:db8::5", ["2001:db9::/32"], 403),
    ("2001:db8::5", [TEST_CLIENT_IP], 403),
    # A dual-stack socket reports an IPv4 client as an IPv4-mapped IPv6 address.
    ("::ffff:203.0.113.7", ["203.0.113.0/24"], 201),
    ("::ffff:203.0.113.7", ["198.51.100.0/24"], 403),
]


async def test_the_ip_allowlist_is_enforced(
    settings: Settings, services: Services, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for number, (address, allowed, status) in enumerate(ALLOWLISTS):
        with subtests.test(msg=f"{address} with {allowed}"):
            key = await make_key(services, tenant.workspace.id, allowed_ips=allowed)
            external_id = f"user-{number}"

            async with client_at(settings, services, address) as client:
                response = await client.post(
                    PATH,
                    json=body(tenant.email_group.id, external_id=external_id),
                    headers={"Authorization": f"Bearer {key}"},
                )

            assert response.status_code == status
            changes = [
                c
                for c in await services.subscriptions.changes(workspace_id=tenant.workspace.id)
                if c.external_id == external_id
            ]
            if status == 403:
                assert response.json() == IP_DENIED
                assert changes == []
            else:
                assert [c.client_ip for c in changes] == [address]


async def test_the_ip_allowlist_applies_to_the_legacy_forms_too(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    key = await make_key(services, tenant.workspace.id, allowed_ips=["198.51.100.0/24"])

    in_body = await client.post(PATH, json={**valid(tenant), "api_key": key})
    in_query = await client.post(PATH, json=valid(tenant), params={"api_key": key})

    assert [(r.status_code, r.json()) for r in (in_body, in_query)] == [(403, IP_DENIED)] * 2


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"subscription_state": "subscribed"}', "application/json"),
        (b"not json at all", "application/json"),
        (b"{}", "text/plain"),
    ],
)
async def test_a_bad_header_key_is_refused_before_the_body_is_judged(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        PATH,
        content=content,
        headers={"Authorization": "Bearer sgk_nope", "Content-Type": content_type},
    )

    assert (response.status_code, response.json()) == (401, INVALID_KEY)


async def test_a_legacy_key_is_refused_before_the_fields_are_judged(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(PATH, json={"api_key": "sgk_nope", "subscription_state": "x"})

    assert (response.status_code, response.json()) == (401, INVALID_KEY)


async def test_permission_is_checked_before_the_fields(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    key = await make_key(services, tenant.workspace.id, permissions=["subscription.status.get"])

    response = await client.post(PATH, json={}, headers={"Authorization": f"Bearer {key}"})

    assert response.status_code == 403


async def test_a_key_never_reaches_another_workspaces_group(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    other = await make_tenant(services)
    before = await row_counts(services)

    response = await client.post(
        PATH, json=body(other.email_group.id, external_id="user-1"), headers=tenant.auth
    )

    assert (response.status_code, response.json()) == (
        400,
        {"message": "Invalid subscription group ID"},
    )
    assert await row_counts(services) == before
