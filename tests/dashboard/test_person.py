"""The dashboard's side of the person's own say (§11): their history with source, reason and user
agent, a group's reasons for leaving, erasing a person, earlier opt-outs, and the pages' branding."""

from __future__ import annotations

import re

import httpx

from subgroups.container import Services
from subgroups.domain.models import Workspace
from tests.api.helpers import set_state
from tests.api.person import form_token, links_for, one_click
from tests.dashboard.helpers import client_for, csrf_of
from tests.factories import Tenant, make_tenant


async def tenant_with_a_person_who_left(services: Services) -> Tenant:
    """u1 (a@example.com) left the email group from their preference page, giving a reason; u2
    left it by one-click."""
    tenant = await make_tenant(services)
    async with client_for(services) as api:
        for person, email in (("u1", "a@example.com"), ("u2", "b@example.com")):
            await set_state(
                api, tenant, tenant.email_group, "subscribed", external_id=person, email=email
            )
        mine = await links_for(api, tenant, tenant.email_group, external_id="u1")
        page = await api.get(mine.preferences)
        saved = await api.post(
            mine.preferences,
            data={
                "form_token": form_token(page.text),
                "reason": "Not relevant to me",
                "reason_detail": "<b>bye</b>",
            },
            headers={"User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/140.0"},
        )
        assert saved.status_code == 200
        theirs = await links_for(api, tenant, tenant.email_group, external_id="u2")
        assert (await one_click(api, theirs.unsubscribe)).status_code == 200
    return tenant


async def test_a_profiles_history_shows_the_persons_own_changes(
    web: httpx.AsyncClient, services: Services
) -> None:
    tenant = await tenant_with_a_person_who_left(services)

    page = await web.get(
        f"/dashboard/w/{tenant.workspace.id}/profiles", params={"by": "external_id", "q": "u1"}
    )

    assert page.status_code == 200
    assert "Preference Page" in page.text
    assert "Not relevant to me: <q>&lt;b&gt;bye&lt;/b&gt;</q>" in page.text
    assert "Mozilla/5.0 (X11; Linux) Firefox/140.0" in page.text
    assert "203.0.113.7" in page.text


async def test_a_groups_page_counts_the_reasons_given(
    web: httpx.AsyncClient, services: Services
) -> None:
    tenant = await tenant_with_a_person_who_left(services)

    page = await web.get(f"/dashboard/w/{tenant.workspace.id}/groups/{tenant.email_group.id}")

    assert page.status_code == 200
    reasons = page.text.split('id="reasons-title"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">(\d+)</td></tr>',
        reasons,
    )
    # The one-click leaver gave no reason: only the preference page's reason is counted.
    assert rows == [("Not relevant to me", "1", "1")]


async def test_erasing_from_the_dashboard_needs_its_form_and_leaves_the_earlier_opt_out(
    web: httpx.AsyncClient, services: Services
) -> None:
    tenant = await tenant_with_a_person_who_left(services)
    profiles = f"/dashboard/w/{tenant.workspace.id}/profiles"
    found = await web.get(profiles, params={"by": "email", "q": "a@example.com"})
    [erase] = re.findall(r'action="(/dashboard/w/\d+/profiles/\d+/erase)"', found.text)
    assert 'data-confirm="Erase u1? Their external id, email and phone are removed' in found.text
    assert "This cannot be undone" in found.text

    forged = await web.post(erase, data={"csrf": "forged"})
    done = await web.post(erase, data={"csrf": csrf_of(found.text)})
    gone = await web.get(profiles, params={"by": "email", "q": "a@example.com"})

    assert forged.status_code == 403
    assert done.status_code == 303
    assert "No profile found" in gone.text
    group_page = await web.get(f"/dashboard/w/{tenant.workspace.id}/groups/{tenant.email_group.id}")
    assert "Erased" in group_page.text
    assert "a@example.com" not in group_page.text

    async with client_for(services) as api:
        await set_state(api, tenant, tenant.email_group, "subscribed", email="a@example.com")
    back = await web.get(profiles, params={"by": "email", "q": "a@example.com"})
    assert "Earlier opt-outs of an erased person" in back.text
    assert "Unsubscribed" in back.text.split("Earlier opt-outs", 1)[1]


async def test_the_person_pages_branding_is_set_and_checked(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    path = f"/dashboard/w/{workspace.id}/pages"
    page = await web.get(path)
    csrf = csrf_of(page.text)

    refused = await web.post(
        path, data={"csrf": csrf, "display_name": "Acme", "accent_color": "#fafafa"}
    )
    saved = await web.post(
        path, data={"csrf": csrf, "display_name": "Acme News", "accent_color": "#1A4D8F"}
    )
    shown = await web.get(path)

    assert page.status_code == 200
    assert 'aria-current="page">Person pages' in page.text
    assert refused.status_code == 400
    assert "too light" in refused.text
    assert 'value="Acme"' in refused.text  # what was typed comes back
    assert saved.status_code == 303
    assert 'value="Acme News"' in shown.text
    assert 'value="#1a4d8f"' in shown.text
    assert (await services.person.branding(workspace_id=workspace.id)).accent_color == "#1a4d8f"
