"""How the dashboard answers errors, through the real ASGI app, on both backends.

The status of every error comes from the one mapper in `web/errors.py`; a form refused for what
was typed in it comes back with the typed values and that status.
"""

from __future__ import annotations

import httpx
import pytest

from subgroups.container import Services
from subgroups.domain.models import Workspace
from subgroups.errors import PermissionDenied
from tests.dashboard.helpers import dashboard_raising, post_form
from tests.factories import make_group, make_workspace


async def test_a_group_with_a_taken_name_is_a_409_and_the_form_keeps_what_was_typed(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    taken = await make_group(services, workspace.id, name="Newsletter")
    groups = f"/dashboard/w/{workspace.id}/groups"

    response = await post_form(
        web,
        groups,
        groups,
        {"name": taken.name, "channel": "sms", "description": "Texts <b>weekly</b>"},
    )

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("text/html")
    assert "with name &#39;Newsletter&#39; already exists in this workspace" in response.text
    assert '<details class="create" open>' in response.text
    assert 'value="Newsletter"' in response.text
    assert 'value="sms" checked' in response.text
    assert "Texts &lt;b&gt;weekly&lt;/b&gt;</textarea>" in response.text
    assert len(await services.groups.list(workspace_id=workspace.id)) == 1


async def test_renaming_a_group_to_a_taken_name_is_a_409_on_the_group_page(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    await make_group(services, workspace.id, name="Newsletter")
    other = await make_group(services, workspace.id, name="Offers")
    page = f"/dashboard/w/{workspace.id}/groups/{other.id}"

    response = await post_form(
        web, page, f"{page}/edit", {"name": "Newsletter", "description": "kept"}
    )

    assert response.status_code == 409
    assert "with name &#39;Newsletter&#39; already exists in this workspace" in response.text
    assert "<h1>Offers" in response.text
    assert 'id="edit-name" name="name" required maxlength="200" value="Newsletter"' in response.text
    names = {g.name for g in await services.groups.list(workspace_id=workspace.id)}
    assert names == {"Newsletter", "Offers"}


async def test_an_invalid_group_is_a_400_with_the_reason_in_the_form(
    web: httpx.AsyncClient, workspace: Workspace
) -> None:
    groups = f"/dashboard/w/{workspace.id}/groups"

    response = await post_form(web, groups, groups, {"name": " ", "channel": "email"})

    assert response.status_code == 400
    assert "A group name is 1-200 characters" in response.text


async def test_a_created_group_still_goes_back_to_the_list_with_a_notice(
    web: httpx.AsyncClient, workspace: Workspace
) -> None:
    groups = f"/dashboard/w/{workspace.id}/groups"

    response = await post_form(web, groups, groups, {"name": "Weekly", "channel": "email"})

    assert response.status_code == 303
    assert response.headers["location"] == groups
    assert "Created the email group “Weekly”." in (await web.get(groups)).text


async def test_a_key_without_permissions_and_an_invalid_lookup_are_400s(
    web: httpx.AsyncClient, workspace: Workspace
) -> None:
    keys = f"/dashboard/w/{workspace.id}/keys"

    no_permission = await post_form(web, keys, keys, {"name": "nothing"})
    lookup = await web.get(f"/dashboard/w/{workspace.id}/profiles?by=phone&q=12345")

    assert no_permission.status_code == 400
    assert "Choose at least one permission." in no_permission.text
    assert lookup.status_code == 400
    assert "Invalid phone number: &#39;12345&#39;" in lookup.text


async def test_a_missing_group_to_archive_is_the_error_page_with_404(
    web: httpx.AsyncClient, workspace: Workspace
) -> None:
    groups = f"/dashboard/w/{workspace.id}/groups"

    response = await post_form(web, groups, f"{groups}/nope/archive", {})

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text
    assert "No subscription group &#39;nope&#39;" in response.text


async def test_a_permission_denied_is_the_error_page_with_403() -> None:
    # No dashboard view raises PermissionDenied today: a tiny app with the dashboard's error
    # handling stands in for the one that will.
    app = dashboard_raising(PermissionDenied("Only owners may do this"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/dashboard/boom")

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not allowed</h1>" in response.text
    assert "Only owners may do this" in response.text


async def test_a_key_of_another_workspace_cannot_be_revoked_from_this_one(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    elsewhere = await make_workspace(services)
    theirs = await services.keys.create(workspace_id=elsewhere.id)
    keys = f"/dashboard/w/{workspace.id}/keys"

    response = await post_form(web, keys, f"{keys}/{theirs.key.id}/revoke", {})

    assert response.status_code == 404
    assert f"No API key {theirs.key.id} in this workspace" in response.text
    assert await services.keys.authenticate(theirs.secret) == theirs.key
    await services.keys.flush()


@pytest.mark.parametrize("days", ["7", "²", "9" * 5000, "-30", "thirty"])
async def test_a_group_page_for_other_days_is_a_400(
    web: httpx.AsyncClient, services: Services, workspace: Workspace, days: str
) -> None:
    group = await make_group(services, workspace.id)

    page = await web.get(f"/dashboard/w/{workspace.id}/groups/{group.id}", params={"days": days})

    assert page.status_code == 400
    assert "days is one of 30, 90" in page.text
