"""The person's data (contract §11): export, erasure, and the suppression entry it leaves, on both
backends. Erase-then-import: imports do not exist yet, so the suppression check an importer is to
call (`PersonService.suppressed_resubscription`) is tested here, after an erase and a set through
the API for the same address."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from subgroups.container import Services
from subgroups.domain.models import State
from subgroups.errors import NotFound
from subgroups.storage.tables import erasures, profiles, suppressions
from tests.api.helpers import set_state
from tests.api.person import links_for, one_click, records, status
from tests.factories import Tenant

EMAIL = "Person@Example.com"


async def erased_person(client: httpx.AsyncClient, services: Services, tenant: Tenant) -> int:
    """u1 with an email, who left the email group by one-click, then was erased; its profile id."""
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1", email=EMAIL)
    links = await links_for(client, tenant, tenant.email_group, external_id="u1")
    await one_click(client, links.unsubscribe)
    [person] = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="email", value=EMAIL
    )
    kept = await services.person.erase(
        workspace_id=tenant.workspace.id, profile_id=person.id, by="ops@example.com"
    )
    assert kept == 1
    return person.id


async def test_erasure_removes_every_identifier_and_keeps_only_a_hashed_entry(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    profile_id = await erased_person(client, services, tenant)

    history = await records(services, tenant)
    assert [(r["profile_id"], r["external_id"], r["email"], r["phone"]) for r in history] == [
        (profile_id, None, None, None),
        (profile_id, None, None, None),
    ]
    assert [r["source"] for r in history] == ["REST API", "One-Click Unsubscribe"]
    # What the person's own mail client sent goes too; what the business's API call recorded stays.
    assert [(r["client_ip"], r["user_agent"]) for r in history] == [
        ("203.0.113.7", None),
        (None, None),
    ]
    async with services.db.snapshot() as conn:
        profile = (await conn.execute(select(profiles).where(profiles.c.id == profile_id))).one()
        entries = (await conn.execute(select(suppressions))).mappings().all()
        erasure = (await conn.execute(select(erasures))).mappings().one()
    assert (profile.external_id, profile.email, profile.phone) == (None, None, None)
    [entry] = entries
    assert entry["subscription_group_id"] == tenant.email_group.id
    assert entry["state"] == "unsubscribed"
    assert "example" not in str(dict(entry)).lower()
    assert (erasure["profile_id"], erasure["erased_by"], erasure["suppressed"]) == (
        profile_id,
        "ops@example.com",
        1,
    )
    assert "example.com" not in str(dict(erasure)).replace("ops@example.com", "")
    assert await status(client, tenant, tenant.email_group, email=EMAIL) == "Unknown"
    assert await status(client, tenant, tenant.email_group, external_id="u1") == "Unknown"


async def test_an_erased_persons_links_stop_working(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    links = await links_for(client, tenant, tenant.email_group, external_id="u1")
    [person] = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="external_id", value="u1"
    )
    await services.person.erase(workspace_id=tenant.workspace.id, profile_id=person.id, by="CLI")

    assert (await client.get(links.unsubscribe)).status_code == 404
    assert (await client.get(links.preferences)).status_code == 404
    with pytest.raises(NotFound):
        await services.person.erase(
            workspace_id=tenant.workspace.id, profile_id=person.id, by="CLI"
        )


async def test_erase_then_set_through_the_api_shows_the_earlier_opt_out_and_the_check_refuses(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    await erased_person(client, services, tenant)
    workspace_id = tenant.workspace.id
    # The workspace has a suppression key now: an address has a name under it.
    assert await services.person.contact_hashes(workspace_id=workspace_id, email="x@y.z")

    # The address comes back through the API (an explicit act of the business, not an import).
    await set_state(client, tenant, tenant.email_group, "subscribed", email=EMAIL)
    [exported] = await services.person.export(workspace_id=workspace_id, kind="email", value=EMAIL)

    [earlier] = exported.earlier_opt_outs
    assert (earlier.subscription_group_id, earlier.state) == (
        tenant.email_group.id,
        State.UNSUBSCRIBED,
    )
    assert exported.profile.email == "person@example.com"
    assert [c.source.value for c in exported.changes] == ["REST API"]

    # What an import must ask before resubscribing the address: refused without consent given
    # after the erasure, allowed with it; other groups and other addresses are not concerned.
    check = services.person.suppressed_resubscription
    refused = await check(
        workspace_id=workspace_id, group_id=tenant.email_group.id, email="person@example.com"
    )
    assert refused == earlier
    before = await check(
        workspace_id=workspace_id,
        group_id=tenant.email_group.id,
        email="person@example.com",
        consented_at=earlier.erased_at,
    )
    after = await check(
        workspace_id=workspace_id,
        group_id=tenant.email_group.id,
        email="person@example.com",
        consented_at=earlier.erased_at + timedelta(seconds=1),
    )
    assert (before, after) == (earlier, None)
    assert (
        await check(
            workspace_id=workspace_id, group_id=tenant.sms_group.id, email="person@example.com"
        )
        is None
    )
    assert (
        await check(
            workspace_id=workspace_id, group_id=tenant.email_group.id, email="other@example.com"
        )
        is None
    )


async def test_the_export_holds_everything_about_the_person(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1", email=EMAIL)
    await set_state(client, tenant, tenant.email_group, "unsubscribed", external_id="u1")

    [exported] = await services.person.export(
        workspace_id=tenant.workspace.id, kind="external_id", value="u1"
    )

    assert exported.profile.external_id == "u1"
    assert [s.state for s in exported.profile.subscriptions] == [State.UNSUBSCRIBED]
    assert [(c.old_state, c.new_state) for c in exported.changes] == [
        (None, State.SUBSCRIBED),
        (State.SUBSCRIBED, State.UNSUBSCRIBED),
    ]
    assert exported.earlier_opt_outs == []
    with pytest.raises(NotFound):
        await services.person.export(workspace_id=9999, kind="external_id", value="u1")


async def test_a_workspace_never_sees_anothers_entries(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, other_tenant: Tenant
) -> None:
    await erased_person(client, services, tenant)

    refused = await services.person.suppressed_resubscription(
        workspace_id=other_tenant.workspace.id,
        group_id=tenant.email_group.id,
        email="person@example.com",
    )

    assert refused is None
