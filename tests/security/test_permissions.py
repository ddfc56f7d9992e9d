"""Authentication and the permission matrix (contract §2), on every endpoint."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from subgroups.container import Services
from subgroups.domain.models import Permission
from tests.factories import Tenant, make_key
from tests.security.endpoints import ENDPOINT_IDS, ENDPOINTS, Endpoint, assert_answer
from tests.security.support import fingerprint, imports_made

INVALID = {"message": "Invalid API key"}
MATRIX = [(e, p) for e in ENDPOINTS for p in Permission]


@pytest.mark.parametrize(
    ("endpoint", "granted"), MATRIX, ids=[f"{e.name}-{p.value}" for e, p in MATRIX]
)
async def test_a_key_does_only_what_its_permissions_allow(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    endpoint: Endpoint,
    granted: Permission,
) -> None:
    key = await make_key(services, tenant.workspace.id, permissions=[granted.value])
    before = await fingerprint(services)
    made = await imports_made(services)

    response = await endpoint.build(tenant.email_group.id, "user-1").send(
        client, {"Authorization": f"Bearer {key}"}
    )

    if granted is endpoint.permission:
        assert response.status_code == endpoint.success
    else:
        assert response.status_code == 403
        assert response.json() == {
            "message": "Access Denied: this API key lacks"
            f" the '{endpoint.permission.value}' permission"
        }
        assert await fingerprint(services) == before
        assert await imports_made(services) == made


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_a_key_with_every_permission_passes(
    client: httpx.AsyncClient, tenant: Tenant, endpoint: Endpoint
) -> None:
    response = await endpoint.build(tenant.email_group.id, "user-1").send(client, tenant.auth)

    assert response.status_code == endpoint.success
    assert response.headers["content-type"] == endpoint.answers
    assert_answer(endpoint, response)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer sgk_" + "A" * 43,
        "Bearer not-a-key",
        "Bearer sgk_" + "A" * 200,
        "bearer  sgk_" + "A" * 43,
    ],
    ids=["none", "empty", "blank", "basic", "unknown", "unprefixed", "too-long", "lower-case"],
)
async def test_a_missing_or_unknown_key_is_refused(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    endpoint: Endpoint,
    authorization: str | None,
) -> None:
    before = await fingerprint(services)
    made = await imports_made(services)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await endpoint.build(tenant.email_group.id, "user-1").send(client, headers)

    assert (response.status_code, response.json()) == (401, INVALID)
    assert "x-ratelimit-limit" not in response.headers
    assert await fingerprint(services) == before
    assert await imports_made(services) == made


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_a_revoked_key_is_refused_like_an_unknown_one(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, endpoint: Endpoint
) -> None:
    new = await services.keys.create(workspace_id=tenant.workspace.id)
    await services.keys.revoke(key_id=new.key.id, workspace_id=tenant.workspace.id)
    call = endpoint.build(tenant.email_group.id, "user-1")

    revoked = await call.send(client, {"Authorization": f"Bearer {new.secret}"})
    unknown = await call.send(client, {"Authorization": f"Bearer {new.secret[:-2]}xx"})

    assert (revoked.status_code, revoked.json()) == (401, INVALID)
    assert (unknown.status_code, unknown.json()) == (401, INVALID)
    assert revoked.headers.keys() == unknown.headers.keys()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_the_legacy_query_parameter_is_checked_like_the_header(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, endpoint: Endpoint
) -> None:
    key = await make_key(services, tenant.workspace.id)
    call = endpoint.build(tenant.email_group.id, "user-1")

    good = await replace(call, params={**call.params, "api_key": key}).send(client)
    bad = await replace(call, params={**call.params, "api_key": "sgk_x"}).send(client)

    assert good.status_code == endpoint.success
    assert (bad.status_code, bad.json()) == (401, INVALID)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.json_body], ids=lambda e: e.name)
async def test_the_legacy_body_field_is_checked_like_the_header(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, endpoint: Endpoint
) -> None:
    call = endpoint.build(tenant.email_group.id, "user-1")
    assert call.json is not None
    before = await fingerprint(services)

    bad = await client.post(call.path, json={**call.json, "api_key": "sgk_x"})
    wrong_type = await client.post(call.path, json={**call.json, "api_key": 12})
    good = await client.post(call.path, json={**call.json, "api_key": tenant.key})

    assert (bad.status_code, bad.json()) == (401, INVALID)
    assert (wrong_type.status_code, wrong_type.json()) == (401, INVALID)
    assert good.status_code == endpoint.success
    assert (await fingerprint(services))[2] == before[2] + 1
