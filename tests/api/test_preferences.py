"""The preference page (contract §11) through the real app, on both backends: toggles, reasons,
one transaction, the form's token."""

from __future__ import annotations

import re

import httpx

from subgroups.container import Services
from tests.api.helpers import set_state
from tests.api.person import FORM, form_token, links_for, records, status
from tests.factories import Tenant, make_group
from tests.security.support import fingerprint


async def person_in_two_email_groups(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> tuple[str, str]:
    """u1 (a@example.com) subscribed to the tenant's email group, unknown in a second one; the
    preference page's path and its form token."""
    second = await make_group(services, tenant.workspace.id, name="Weekly digest")
    assert second.id
    await set_state(
        client, tenant, tenant.email_group, "subscribed", external_id="u1", email="a@example.com"
    )
    links = await links_for(client, tenant, tenant.email_group, external_id="u1")
    page = await client.get(links.preferences)
    assert page.status_code == 200
    return links.preferences, form_token(page.text)


async def test_the_page_lists_the_persons_groups_with_their_state(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    path, _ = await person_in_two_email_groups(client, services, tenant)
    await services.person.set_branding(
        workspace_id=tenant.workspace.id, display_name="Acme News", accent_color="#1a4d8f"
    )

    page = (await client.get(path)).text

    checked = re.findall(r'name="subscribed" value="([^"]+)"( checked)?', page)
    assert (tenant.email_group.id, " checked") in checked
    assert len(checked) == 2  # both email groups; no SMS group: the person has no phone
    assert tenant.sms_group.name not in page
    assert '<html lang="en">' in page
    assert "Acme News" in page
    assert "--accent: #1a4d8f" in page
    assert "<script" not in page


async def test_saving_applies_every_toggle_and_records_the_reason_on_what_was_left(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    path, token = await person_in_two_email_groups(client, services, tenant)
    second = next(
        g
        for g in await services.groups.list(workspace_id=tenant.workspace.id)
        if g.name == "Weekly digest"
    )

    saved = await client.post(
        path,
        data={
            "form_token": token,
            "subscribed": [second.id],
            "reason": "Too many messages",
            "reason_detail": "  daily   is a lot ",
        },
        headers={"User-Agent": "Firefox/140"},
    )

    assert saved.status_code == 200, saved.text
    assert "Saved" in saved.text
    assert await status(client, tenant, tenant.email_group, external_id="u1") == "Unsubscribed"
    assert await status(client, tenant, second, external_id="u1") == "Subscribed"
    left, joined = (await records(services, tenant))[-2:]
    by_group = {r["subscription_group_id"]: r for r in (left, joined)}
    leave, join = by_group[tenant.email_group.id], by_group[second.id]
    assert (leave["source"], leave["new_state"]) == ("Preference Page", "unsubscribed")
    assert (leave["reason"], leave["reason_detail"]) == ("Too many messages", "daily is a lot")
    assert (join["source"], join["new_state"], join["old_state"]) == (
        "Preference Page",
        "subscribed",
        None,
    )
    assert (join["reason"], join["reason_detail"]) == (None, None)
    assert leave["user_agent"] == join["user_agent"] == "Firefox/140"
    assert leave["request_id"] == join["request_id"] == saved.headers["x-request-id"]


async def test_saving_the_page_as_it_is_changes_nothing(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    path, token = await person_in_two_email_groups(client, services, tenant)
    before = await fingerprint(services, tenant.workspace.id)

    saved = await client.post(
        path, data={"form_token": token, "subscribed": [tenant.email_group.id]}
    )

    assert saved.status_code == 200
    assert await fingerprint(services, tenant.workspace.id) == before


async def test_unsubscribe_from_all_leaves_every_group_on_offer(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    path, token = await person_in_two_email_groups(client, services, tenant)

    await client.post(
        path, data={"form_token": token, "subscribed": [tenant.email_group.id], "leave_all": "1"}
    )

    changes = [
        (r["old_state"], r["new_state"], r["reason"]) for r in (await records(services, tenant))[1:]
    ]
    assert sorted(changes, key=str) == [
        ("subscribed", "unsubscribed", None),
        (None, "unsubscribed", None),
    ]


async def test_a_form_without_its_token_or_with_a_bad_reason_changes_nothing(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    path, token = await person_in_two_email_groups(client, services, tenant)
    await set_state(
        client, tenant, tenant.email_group, "subscribed", external_id="u2", email="b@example.com"
    )
    others = await links_for(client, tenant, tenant.email_group, external_id="u2")
    their_token = form_token((await client.get(others.preferences)).text)
    before = await fingerprint(services, tenant.workspace.id)

    answers = [
        await client.post(path, data={}),
        await client.post(path, data={"form_token": "forged"}),
        await client.post(path, data={"form_token": their_token}),
        await client.post(path, data={"form_token": token, "reason": "Made up"}),
        await client.post(path, content=b"form_token=" + b"x" * 20_000, headers=FORM),
        await client.post(path, content=b"&".join([b"a=b"] * 300), headers=FORM),
    ]

    assert [a.status_code for a in answers] == [400, 400, 400, 400, 413, 400]
    assert "expired" in answers[0].text
    assert await fingerprint(services, tenant.workspace.id) == before


async def test_an_unsubscribe_link_is_not_a_preference_link_nor_the_other_way_round(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    links = await links_for(client, tenant, tenant.email_group, external_id="u1")

    crossed = [
        await client.get("/preferences/" + links.unsubscribe.rsplit("/", 1)[1]),
        await client.get("/unsubscribe/" + links.preferences.rsplit("/", 1)[1]),
    ]

    assert [c.status_code for c in crossed] == [404, 404]


async def test_an_archived_group_is_left_as_it_is(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    links = await links_for(client, tenant, tenant.email_group, external_id="u1")
    await services.groups.archive(workspace_id=tenant.workspace.id, group_id=tenant.email_group.id)
    before = await fingerprint(services, tenant.workspace.id)

    page = await client.get(links.unsubscribe)
    posted = await client.post(links.unsubscribe, data={"List-Unsubscribe": "One-Click"})
    preferences = await client.get(links.preferences)

    assert (page.status_code, posted.status_code) == (200, 200)
    assert "no longer sends" in page.text
    assert tenant.email_group.id not in preferences.text
    assert await fingerprint(services, tenant.workspace.id) == before
