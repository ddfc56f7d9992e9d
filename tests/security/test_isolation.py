"""Tenant isolation (contract §2): a key of one workspace never reads, changes or learns about another's.

For every endpoint, a request naming the other workspace's group, or a profile that exists only in
the other workspace, is answered exactly as one naming something that exists nowhere, and the
other workspace's data is left as it was.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from subgroups.container import Services
from tests.factories import Tenant
from tests.security.endpoints import ENDPOINT_IDS, ENDPOINTS, Call, Endpoint
from tests.security.support import fingerprint, subscribe

THEIR_USER = "their-user"
INVALID_GROUP = "Invalid subscription group ID"


def _shape(response: httpx.Response, call: Call, identifier: str) -> tuple[int, str]:
    """Status and body, with the identifier the request named, and what else of the request the
    answer repeats, written as placeholders; a queued import's new id likewise."""
    text = response.text.replace(identifier, "<id>")
    for name in call.names:
        text = text.replace(name, "<name>")
    if response.status_code == 202:
        text = text.replace(response.json()["import_id"], "<new import>")
    return response.status_code, text


async def _outcomes(services: Services, tenant: Tenant, *answers: httpx.Response) -> list[Any]:
    """What the imports the answers queued came to, once run: their counts and error rows,
    with the identifier each named masked as above."""
    loop = services.import_loop()
    while await loop.run_one():
        pass
    outcomes = []
    for answer in answers:
        job = await services.imports.get(
            workspace_id=tenant.workspace.id, import_id=answer.json()["import_id"]
        )
        errors = services.imports.errors(workspace_id=job.workspace_id, import_id=job.id)
        outcomes.append(
            (job.status, job.counts, [(e.line, e.column, e.message) async for e in errors])
        )
    return outcomes


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
    crossing_call = endpoint.build(seeded.email_group.id, THEIR_USER)
    unknown_call = endpoint.build(str(uuid.uuid4()), THEIR_USER)

    crossing = await crossing_call.send(client, tenant.auth)
    unknown = await unknown_call.send(client, tenant.auth)

    assert _shape(crossing, crossing_call, THEIR_USER) == _shape(unknown, unknown_call, THEIR_USER)
    if endpoint.queued:
        crossed, unknown_group = await _outcomes(services, tenant, crossing, unknown)
        assert crossed[2] == unknown_group[2] == [(2, "subscription_group_id", INVALID_GROUP)]
        assert crossed == unknown_group
    assert await fingerprint(services, seeded.workspace.id) == theirs_before
    if endpoint.unknown is not None:
        assert crossing.status_code == endpoint.unknown
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
    crossing_call = endpoint.build(tenant.email_group.id, THEIR_USER)
    unknown_call = endpoint.build(tenant.email_group.id, never_seen)

    crossing = await crossing_call.send(client, tenant.auth)
    unknown = await unknown_call.send(client, tenant.auth)

    assert crossing.status_code == endpoint.success
    assert _shape(crossing, crossing_call, THEIR_USER) == _shape(unknown, unknown_call, never_seen)
    if endpoint.queued:
        crossed, unknown_person = await _outcomes(services, tenant, crossing, unknown)
        assert crossed == unknown_person
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
    if endpoint.queued:
        [(status, _counts, errors)] = await _outcomes(services, tenant, response)
        assert (status.value, errors) == ("finished", [])
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
