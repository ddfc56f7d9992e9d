"""IP allowlists (contract §2) and where the client's address comes from (trusted proxies)."""

from __future__ import annotations

import ipaddress

import pytest

from subgroups.config import Settings
from subgroups.container import Services
from tests.factories import Tenant, make_key
from tests.security.endpoints import ENDPOINT_IDS, ENDPOINTS, Endpoint
from tests.security.support import app_client, fingerprint

NOT_ALLOWED = {"message": "Access Denied: this IP address is not allowed for this API key"}


@pytest.mark.parametrize(
    ("client_address", "allowlist", "allowed"),
    [
        ("203.0.113.7", ["203.0.113.7"], True),
        ("203.0.113.7", ["203.0.113.0/24"], True),
        ("203.0.113.7", ["198.51.100.0/24", "203.0.113.7/32"], True),
        ("203.0.113.7", ["203.0.113.8"], False),
        ("203.0.113.7", ["198.51.100.0/24"], False),
        ("203.0.113.7", ["2001:db8::/32"], False),
        ("2001:db8::7", ["2001:db8::7"], True),
        ("2001:db8::7", ["2001:db8::/32"], True),
        ("2001:db8::7", ["2001:db8::8"], False),
        ("2001:db8::7", ["203.0.113.0/24"], False),
        ("::ffff:203.0.113.7", ["203.0.113.7"], True),
        ("::ffff:203.0.113.7", ["203.0.113.8"], False),
    ],
)
async def test_the_allowlist_admits_exactly_its_addresses_and_ranges(
    settings: Settings,
    services: Services,
    tenant: Tenant,
    client_address: str,
    allowlist: list[str],
    allowed: bool,
) -> None:
    key = await make_key(services, tenant.workspace.id, allowed_ips=allowlist)
    before = await fingerprint(services)

    async with app_client(settings, client=(client_address, 40000)) as (http, _):
        response = await http.post(
            "/subscription/status/set",
            json={
                "subscription_group_id": tenant.email_group.id,
                "subscription_state": "subscribed",
                "external_id": "user-1",
            },
            headers={"Authorization": f"Bearer {key}"},
        )

    if allowed:
        assert response.status_code == 201
    else:
        assert (response.status_code, response.json()) == (403, NOT_ALLOWED)
        assert await fingerprint(services) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_every_endpoint_enforces_the_allowlist(
    settings: Settings, services: Services, tenant: Tenant, endpoint: Endpoint
) -> None:
    key = await make_key(services, tenant.workspace.id, allowed_ips=["198.51.100.0/24"])
    call = endpoint.build(tenant.email_group.id, "user-1")

    async with app_client(settings) as (http, _):
        response = await call.send(http, {"Authorization": f"Bearer {key}"})

    assert (response.status_code, response.json()) == (403, NOT_ALLOWED)


async def _post_from(
    settings: Settings,
    tenant: Tenant,
    key: str,
    forwarded_for: list[str],
    *,
    trusted: list[str],
    external_id: str = "user-1",
) -> int:
    headers = [("Authorization", f"Bearer {key}")] + [("X-Forwarded-For", v) for v in forwarded_for]
    proxies = tuple(ipaddress.ip_network(t) for t in trusted)
    async with app_client(settings, trusted_proxies=proxies) as (http, _):
        response = await http.post(
            "/subscription/status/set",
            json={
                "subscription_group_id": tenant.email_group.id,
                "subscription_state": "subscribed",
                "external_id": external_id,
            },
            headers=headers,
        )
    return response.status_code


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    key = await make_key(services, tenant.workspace.id, allowed_ips=["198.51.100.9"])

    assert await _post_from(settings, tenant, key, ["198.51.100.9"], trusted=[]) == 403
    assert (
        await _post_from(settings, tenant, key, ["198.51.100.9"], trusted=["192.0.2.0/24"]) == 403
    )


async def test_a_trusted_proxy_supplies_the_client_address(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    key = await make_key(services, tenant.workspace.id, allowed_ips=["198.51.100.9"])

    status = await _post_from(settings, tenant, key, ["198.51.100.9"], trusted=["203.0.113.7"])

    assert status == 201
    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert change.client_ip == "198.51.100.9"


async def test_the_right_most_untrusted_hop_is_the_client(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    key = await make_key(services, tenant.workspace.id, allowed_ips=["198.51.100.9"])
    trusted = ["203.0.113.0/24", "10.0.0.0/8"]

    # The client forged a left-most entry; the proxy appended the address it really saw.
    forged = await _post_from(settings, tenant, key, ["198.51.100.9, 192.0.2.1"], trusted=trusted)
    # Two proxies: the client, then an inner proxy, each hop in its own header line.
    chained = await _post_from(settings, tenant, key, ["198.51.100.9", "10.1.2.3"], trusted=trusted)

    assert (forged, chained) == (403, 201)


async def test_a_garbled_forwarded_chain_leaves_the_client_unknown(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    allowlisted = await make_key(services, tenant.workspace.id, allowed_ips=["0.0.0.0/0", "::/0"])
    trusted = ["203.0.113.7"]

    refused = await _post_from(settings, tenant, allowlisted, ["not-an-ip"], trusted=trusted)
    served = await _post_from(settings, tenant, tenant.key, ["not-an-ip"], trusted=trusted)

    assert (refused, served) == (403, 201)
    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert change.client_ip is None
