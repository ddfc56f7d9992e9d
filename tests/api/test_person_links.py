"""Minting the person's links (contract §11): GET /links/unsubscribe and Braze's preference-center
URL endpoint, on both backends."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from subgroups.config import Settings, SettingsError
from subgroups.container import Services
from tests.api.helpers import set_state
from tests.api.person import links_for
from tests.factories import Tenant, make_key
from tests.security.support import app_client

PATH = "/links/unsubscribe"


async def mint(client: httpx.AsyncClient, tenant: Tenant, **params: str) -> httpx.Response:
    return await client.get(PATH, params=params, headers=tenant.auth)


async def test_links_for_a_person_carry_the_headers_values_and_a_preference_page(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")

    links = await links_for(client, tenant, tenant.email_group, external_id="u1")

    body = links.document
    assert body["url"].startswith("http://testserver/unsubscribe/")
    assert body["list_unsubscribe"] == f"<{body['url']}>"
    assert body["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert body["preferences_url"].startswith("http://testserver/preferences/")
    assert body["message"] == "success"
    # Compact enough for a header line, and stable: no row per link, the same person's link again
    # is the same link.
    assert len(body["url"]) < 100
    again = await links_for(client, tenant, tenant.email_group, external_id="u1")
    assert again.document == body


async def test_links_are_built_on_the_public_url(settings: Settings, tenant: Tenant) -> None:
    async with app_client(settings, public_url="https://consent.example.com") as (http, _):
        await set_state(http, tenant, tenant.sms_group, "subscribed", phone="+14155552671")
        body = (await links_for(http, tenant, tenant.sms_group, phone="+1 415 555 2671")).document

    assert body["url"].startswith("https://consent.example.com/unsubscribe/")
    assert body["preferences_url"].startswith("https://consent.example.com/preferences/")


async def test_the_request_is_checked_in_the_contracts_order(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    email_group, sms_group = tenant.email_group.id, tenant.sms_group.id
    cases = [
        ({"external_id": "u1"}, "subscription_group_id is required"),
        ({"subscription_group_id": "nope", "external_id": "u1"}, "Invalid subscription group ID"),
        (
            {"subscription_group_id": other_tenant.email_group.id, "external_id": "u1"},
            "Invalid subscription group ID",
        ),
        ({"subscription_group_id": email_group}, "One of external_id or email is required"),
        (
            {"subscription_group_id": email_group, "phone": "+14155552671"},
            "Phone numbers cannot be used with an email subscription group;"
            " use external_id or email",
        ),
        (
            {"subscription_group_id": sms_group, "email": "a@example.com"},
            "Email addresses cannot be used with an SMS subscription group;"
            " use external_id or phone",
        ),
        (
            {"subscription_group_id": email_group, "external_id": "u1", "email": "a@example.com"},
            "Give one of external_id, email or phone, not several",
        ),
        ({"subscription_group_id": email_group, "email": "not-an-email"}, None),
        ({"subscription_group_id": email_group, "external_id": "nobody"}, None),
    ]
    for params, message in cases:
        response = await mint(client, tenant, **params)
        assert response.status_code == 400, (params, response.text)
        if message is not None:
            assert response.json() == {"message": message}, params
    assert (
        await mint(client, tenant, subscription_group_id=email_group, external_id="nobody")
    ).json() == {"message": "No profile matches external_id 'nobody'"}
    repeated = await client.get(
        f"{PATH}?subscription_group_id={email_group}&email=a@example.com&email=b@example.com",
        headers=tenant.auth,
    )
    assert repeated.json() == {"message": "Give one email"}


async def test_an_archived_group_has_no_unsubscribe_link(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    await services.groups.archive(workspace_id=tenant.workspace.id, group_id=tenant.email_group.id)

    response = await mint(
        client, tenant, subscription_group_id=tenant.email_group.id, external_id="u1"
    )

    assert response.status_code == 400
    assert "is archived" in response.json()["message"]


async def test_minting_needs_the_links_create_permission(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    reader = await make_key(services, tenant.workspace.id, permissions=["subscription.status.get"])
    minter = await make_key(services, tenant.workspace.id, permissions=["links.create"])
    params = {"subscription_group_id": tenant.email_group.id, "external_id": "u1"}

    refused = await client.get(PATH, params=params, headers={"Authorization": f"Bearer {reader}"})
    allowed = await client.get(PATH, params=params, headers={"Authorization": f"Bearer {minter}"})
    anonymous = await client.get(PATH, params=params)

    assert refused.status_code == 403
    assert refused.json() == {
        "message": "Access Denied: this API key lacks the 'links.create' permission"
    }
    assert allowed.status_code == 200
    assert "x-ratelimit-remaining" in allowed.headers
    assert anonymous.status_code == 401


async def test_brazes_preference_center_url_names_the_persons_page(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="user 1é")
    mine = await links_for(client, tenant, tenant.email_group, external_id="user 1é")

    response = await client.get(
        "/preference_center/v1/any-center/url/user%201%C3%A9", headers=tenant.auth
    )
    unknown = await client.get("/preference_center/v1/any-center/url/nobody", headers=tenant.auth)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "preference_center_url": mine.document["preferences_url"],
        "message": "success",
    }
    assert unknown.status_code == 400
    assert unknown.json() == {"message": "No profile matches external_id 'nobody'"}


async def test_a_bad_public_url_is_refused_at_start_up() -> None:
    for bad in ("consent.example.com", "ftp://x", "https://x/?q=1"):
        with pytest.raises(SettingsError, match="SUBGROUPS_PUBLIC_URL"):
            replace(Settings(), public_url=bad).check()
