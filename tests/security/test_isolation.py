"""Tenant isolation (contract §2): a key of one workspace never reads, changes or learns about another's.

For every endpoint, a request naming the other workspace's group, or a profile that exists only in
the other workspace, is answered exactly as one naming something that exists nowhere, and the
other workspace's data is left as it was.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from subgroups.container import Services
from tests.factories import Tenant
from tests.security.endpoints import ENDPOINT_IDS, ENDPOINTS, Endpoint
from tests.security.support import fingerprint, subscribe

THEIR_USER = "their-user"


def _shape(response: httpx.Response, identifier: str) -> tuple[int, str]:
    """Status and body, with the identifier the request named written as a placeholder."""
    return response.status_code, response.text.replace(identifier, "<id>")


@pytest.fixture
async def seeded(services: Services, other: Tenant) -> Tenant:
    await subscribe(services, other.workspace.id, other.email_group.id, external_id=THEIR_USER)
    return other


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_another_workspaces_group_reads_as_unknown(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    seeded: Tenant,
    endpoint: Endpoint,
) -> None:
    theirs_before = await fingerprint(services, seeded.workspace.id)
    ours_before = await fingerprint(services, tenant.workspace.id)

    crossing = await endpoint.build(seeded.email_group.id, THEIR_USER).send(client, tenant.auth)
    unknown = await endpoint.build(str(uuid.uuid4()), THEIR_USER).send(client, tenant.auth)

    assert _shape(crossing, THEIR_USER) == _shape(unknown, THEIR_USER)
    assert await fingerprint(services, seeded.workspace.id) == theirs_before
    if endpoint.names_a_group:
        assert crossing.status_code == 400
        assert await fingerprint(services, tenant.workspace.id) == ours_before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_another_workspaces_profile_reads_as_unknown(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    seeded: Tenant,
    endpoint: Endpoint,
) -> None:
    theirs_before = await fingerprint(services, seeded.workspace.id)
    never_seen = f"nobody-{uuid.uuid4().hex}"

    crossing = await endpoint.build(tenant.email_group.id, THEIR_USER).send(client, tenant.auth)
    unknown = await endpoint.build(tenant.email_group.id, never_seen).send(client, tenant.auth)

    assert crossing.status_code == endpoint.success
    assert _shape(crossing, THEIR_USER) == _shape(unknown, never_seen)
    assert await fingerprint(services, seeded.workspace.id) == theirs_before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.writes], ids=lambda e: e.name)
async def test_a_write_with_the_same_external_id_stays_in_its_own_workspace(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    seeded: Tenant,
    endpoint: Endpoint,
) -> None:
    response = await endpoint.build(tenant.email_group.id, THEIR_USER).send(client, tenant.auth)

    assert response.status_code == endpoint.success
    [ours] = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="external_id", value=THEIR_USER
    )
    [theirs] = await services.subscriptions.profiles(
        workspace_id=seeded.workspace.id, kind="external_id", value=THEIR_USER
    )
    assert ours.id != theirs.id
    assert [s.group_id for s in ours.subscriptions] == [tenant.email_group.id]
    assert [s.group_id for s in theirs.subscriptions] == [seeded.email_group.id]
    [their_change] = await services.subscriptions.changes(workspace_id=seeded.workspace.id)
    assert their_change.source.value == "CLI"
