"""Rate limits (contract §8), in one process: counted in memory, or in Redis when configured."""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.services.ratelimits import Pool
from tests.factories import Tenant, make_key, make_tenant
from tests.security.endpoints import (
    ENDPOINT_IDS,
    ENDPOINTS,
    Endpoint,
    assert_answer,
    endpoint_named,
)
from tests.security.support import app_client, imports_made

PATH = "/subscription/status/set"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def set_body(tenant: Tenant, external_id: str, group_id: str | None = None) -> dict[str, Any]:
    return {
        "subscription_group_id": group_id or tenant.email_group.id,
        "subscription_state": "subscribed",
        "external_id": external_id,
    }


def quota(response: httpx.Response) -> tuple[int, int]:
    return (
        int(response.headers["x-ratelimit-limit"]),
        int(response.headers["x-ratelimit-remaining"]),
    )


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_the_set_pool_counts_down_then_refuses_without_writing(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(settings, rate_limit_set="3/minute") as (http, _):
        responses = [
            await http.post(PATH, json=set_body(tenant, f"user-{i}"), headers=tenant.auth)
            for i in range(4)
        ]
    started = time.time()

    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert [quota(r) for r in responses] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    resets = {int(r.headers["x-ratelimit-reset"]) for r in responses}
    assert len(resets) == 1
    assert started - 1 <= resets.pop() <= started + 61
    refused = responses[3]
    assert refused.json() == {"message": "Rate limit exceeded"}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    written = [
        c.external_id
        for c in await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    ]
    assert "user-3" not in written
    assert len(written) == 3


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_every_endpoint_counts_against_its_own_pool_and_stops_at_its_limit(
    settings: Settings, services: Services, tenant: Tenant, endpoint: Endpoint
) -> None:
    call = endpoint.build(tenant.email_group.id, "user-1")
    # A request of the other pool, to show that one pool's exhaustion leaves the other alone.
    other = endpoint_named("status get" if endpoint.pool is Pool.SET else "set v1")
    elsewhere = other.build(tenant.email_group.id, "user-1")
    async with app_client(settings, rate_limit_set="2/minute", rate_limit_get="2/minute") as (
        http,
        _,
    ):
        answers = [await call.send(http, tenant.auth) for _ in range(3)]
        made = await imports_made(services)
        refused_again = await call.send(http, tenant.auth)
        other_pool = await elsewhere.send(http, tenant.auth)

    assert [a.status_code for a in answers] == [endpoint.success, endpoint.success, 429]
    for answer in answers:
        assert_answer(endpoint, answer)
    assert [quota(a) for a in answers] == [(2, 1), (2, 0), (2, 0)]
    assert answers[2].json() == {"message": "Rate limit exceeded"}
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
    assert refused_again.status_code == 429
    assert await imports_made(services) == made  # a refused upload queues nothing
    assert other_pool.status_code in (200, 201)
    assert quota(other_pool) == (2, 1)


async def test_each_workspace_has_its_own_budget(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    other = await make_tenant(services)
    async with app_client(settings, rate_limit_set="1/minute") as (http, _):
        first = await http.post(PATH, json=set_body(tenant, "a"), headers=tenant.auth)
        spent = await http.post(PATH, json=set_body(tenant, "b"), headers=tenant.auth)
        theirs = await http.post(PATH, json=set_body(other, "a"), headers=other.auth)

    assert [first.status_code, spent.status_code, theirs.status_code] == [201, 429, 201]


async def test_keys_of_one_workspace_share_its_budget(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    second = await make_key(services, tenant.workspace.id)
    async with app_client(settings, rate_limit_set="1/minute") as (http, _):
        first = await http.post(PATH, json=set_body(tenant, "a"), headers=tenant.auth)
        other_key = await http.post(
            PATH, json=set_body(tenant, "b"), headers={"Authorization": f"Bearer {second}"}
        )

    assert [first.status_code, other_key.status_code] == [201, 429]


async def test_rejected_requests_after_authentication_count_and_carry_the_headers(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(settings, rate_limit_set="5/minute") as (http, _):
        invalid = await http.post(
            PATH, json=set_body(tenant, "a", group_id="no-such-group"), headers=tenant.auth
        )
        not_json = await http.post(PATH, content=b"{", headers=tenant.auth)
        ok = await http.post(PATH, json=set_body(tenant, "a"), headers=tenant.auth)

    assert invalid.status_code == 400
    assert not_json.status_code == 400
    assert [quota(invalid), quota(not_json), quota(ok)] == [(5, 4), (5, 3), (5, 2)]


async def test_forbidden_requests_show_the_quota_without_spending_it(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    reader = await make_key(services, tenant.workspace.id, permissions=["subscription.status.get"])
    fenced = await make_key(services, tenant.workspace.id, allowed_ips=["198.51.100.1"])
    async with app_client(settings, rate_limit_set="5/minute") as (http, _):
        ok = await http.post(PATH, json=set_body(tenant, "a"), headers=tenant.auth)
        denied = await http.post(
            PATH, json=set_body(tenant, "b"), headers={"Authorization": f"Bearer {reader}"}
        )
        fenced_off = await http.post(
            PATH, json=set_body(tenant, "c"), headers={"Authorization": f"Bearer {fenced}"}
        )
        after = await http.post(PATH, json=set_body(tenant, "d"), headers=tenant.auth)

    assert [denied.status_code, fenced_off.status_code] == [403, 403]
    assert [quota(ok), quota(denied), quota(fenced_off), quota(after)] == [
        (5, 4),
        (5, 4),
        (5, 4),
        (5, 3),
    ]


async def test_unauthenticated_responses_carry_no_quota(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(settings) as (http, _):
        responses = [
            await http.post(PATH, json=set_body(tenant, "a")),
            await http.post(PATH, json=set_body(tenant, "a"), headers={"Authorization": "x"}),
            await http.get("/healthz"),
            await http.get("/no-such-path", headers=tenant.auth),
        ]

    for response in responses:
        assert not any(h in response.headers for h in RATE_HEADERS)


async def test_the_limit_is_read_from_settings(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(settings) as (http, _):
        default = await http.post(PATH, json=set_body(tenant, "a"), headers=tenant.auth)
    async with app_client(settings, rate_limit_set="7 per hour") as (http, _):
        configured = await http.post(PATH, json=set_body(tenant, "b"), headers=tenant.auth)

    assert quota(default) == (5000, 4999)
    assert quota(configured) == (7, 6)


async def test_two_apps_sharing_redis_share_the_count(
    settings: Settings, services: Services, tenant: Tenant, redis_url: str, redis_prefix: str
) -> None:
    shared = replace(
        settings, rate_limit_set="3/minute", redis_url=redis_url, redis_prefix=redis_prefix
    )
    async with app_client(shared) as (one, _), app_client(shared) as (two, _):
        responses = [
            await (one, two)[i % 2].post(
                PATH, json=set_body(tenant, f"user-{i}"), headers=tenant.auth
            )
            for i in range(4)
        ]

    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert [quota(r) for r in responses] == [(3, 2), (3, 1), (3, 0), (3, 0)]


async def test_with_redis_down_requests_are_served_and_counted_locally(
    settings: Settings, services: Services, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="subgroups.ratelimits")
    down = f"redis://127.0.0.1:{closed_port()}/0"
    async with app_client(
        settings,
        rate_limit_set="3/minute",
        redis_url=down,
        metrics_allowed=(ipaddress.ip_network("203.0.113.0/24"),),
    ) as (http, app_services):
        responses = [
            await http.post(PATH, json=set_body(tenant, f"user-{i}"), headers=tenant.auth)
            for i in range(4)
        ]
        metrics = await http.get("/metrics")

    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert [quota(r) for r in responses] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    warnings = [r for r in caplog.records if r.name == "subgroups.ratelimits"]
    assert len(warnings) == 1
    assert "rate-limit store unavailable" in warnings[0].getMessage()
    errors = app_services.metrics.value("subgroups_rate_limit_store_errors_total")
    assert errors >= 1
    assert f"subgroups_rate_limit_store_errors_total {errors}\n" in metrics.text
