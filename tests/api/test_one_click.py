"""RFC 8058 one-click unsubscribe (contract §11) through the real app, on both backends."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import httpx

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.domain.links import Claim, LinkKind, read_claim, sign
from subgroups.web.app import create_app
from tests.api.helpers import TEST_CLIENT_IP, set_state
from tests.api.person import (
    FORM,
    ONE_CLICK,
    links_for,
    one_click,
    records,
    status,
    subscribed_person,
)
from tests.clock import SettableClock, services_at
from tests.factories import Tenant, make_tenant
from tests.security.support import app_client, fingerprint

SCANNER = "Mozilla/5.0 (compatible; LinkScanner/1.0)"


async def test_a_one_click_post_unsubscribes_and_answers_200_with_nothing_to_follow(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    links = await subscribed_person(client, tenant, tenant.email_group, email="a@example.com")

    response = await one_click(client, links.unsubscribe, **{"User-Agent": "GoogleOneClick/1.0"})

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<a " not in response.text
    assert "<form" not in response.text
    assert "You are unsubscribed" in response.text
    assert await status(client, tenant, tenant.email_group, email="a@example.com") == "Unsubscribed"
    last = (await records(services, tenant))[-1]
    assert (last["old_state"], last["new_state"]) == ("subscribed", "unsubscribed")
    assert last["source"] == "One-Click Unsubscribe"
    assert last["client_ip"] == TEST_CLIENT_IP
    assert last["user_agent"] == "GoogleOneClick/1.0"
    assert (last["api_key_id"], last["reason"], last["reason_detail"]) == (None, None, None)
    assert last["request_id"] == response.headers["x-request-id"]


async def test_scanners_gets_change_nothing_however_often(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    links = await subscribed_person(client, tenant, tenant.email_group, external_id="u1")
    before = await fingerprint(services, tenant.workspace.id)

    for follow in (False, True, False, True):
        page = await client.get(
            links.unsubscribe, headers={"User-Agent": SCANNER}, follow_redirects=follow
        )
        assert page.status_code == 200
        # The page names the group and offers the POST as a button.
        assert tenant.email_group.name in page.text
        assert 'name="List-Unsubscribe" value="One-Click"' in page.text
        assert "set-cookie" not in page.headers
        # A scanner that follows the page's one link reaches the preference page: a GET too.
        hrefs = [h.split('"')[0] for h in page.text.split('href="')[1:]]
        [followed] = [urljoin(links.unsubscribe, h) for h in hrefs if "/static/" not in h]
        assert followed == links.preferences
        assert (await client.get(followed)).status_code == 200
    head = await client.head(links.unsubscribe)

    assert head.status_code == 200
    assert await fingerprint(services, tenant.workspace.id) == before
    assert await status(client, tenant, tenant.email_group, external_id="u1") == "Subscribed"


async def test_repeating_the_post_is_harmless_and_records_one_change(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    links = await subscribed_person(client, tenant, tenant.email_group, external_id="u1")

    answers = [(await one_click(client, links.unsubscribe)).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert [r["source"] for r in await records(services, tenant)] == [
        "REST API",
        "One-Click Unsubscribe",
    ]


async def test_a_person_with_no_state_in_the_group_is_recorded_leaving_from_unknown(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    await set_state(
        client, tenant, tenant.sms_group, "subscribed", external_id="u1", phone="+14155552671"
    )
    links = await links_for(client, tenant, tenant.email_group, external_id="u1")

    assert (await one_click(client, links.unsubscribe)).status_code == 200

    last = (await records(services, tenant))[-1]
    assert (last["subscription_group_id"], last["old_state"], last["new_state"]) == (
        tenant.email_group.id,
        None,
        "unsubscribed",
    )


async def test_leaving_reaches_every_profile_with_the_address(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    for person in ("u1", "u2"):
        await set_state(
            client,
            tenant,
            tenant.email_group,
            "subscribed",
            external_id=person,
            email="a@example.com",
        )
    links = await links_for(client, tenant, tenant.email_group, email="a@example.com")

    await one_click(client, links.unsubscribe)

    assert await status(client, tenant, tenant.email_group, email="a@example.com") == "Unsubscribed"
    left = [
        r["external_id"]
        for r in await records(services, tenant)
        if r["new_state"] == "unsubscribed"
    ]
    assert sorted(left) == ["u1", "u2"]


async def test_a_multipart_one_click_post_works_too(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    links = await subscribed_person(client, tenant, tenant.email_group, external_id="u1")

    response = await client.post(links.unsubscribe, files={"List-Unsubscribe": (None, "One-Click")})

    assert response.status_code == 200, response.text
    assert await status(client, tenant, tenant.email_group, external_id="u1") == "Unsubscribed"


async def test_a_post_without_the_one_click_field_changes_nothing(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    links = await subscribed_person(client, tenant, tenant.email_group, external_id="u1")
    before = await fingerprint(services, tenant.workspace.id)

    answers = [
        await client.post(links.unsubscribe),
        await client.post(links.unsubscribe, data={"List-Unsubscribe": "Yes"}),
        await client.post(links.unsubscribe, content=b"\xff\xfe", headers=FORM),
        await client.post(links.unsubscribe, content=b"x" * 20_000, headers=FORM),
        await client.post(
            links.unsubscribe,
            content=b"--b\r\n",
            headers={"content-type": "multipart/form-data; boundary=b"},
        ),
    ]

    assert [a.status_code for a in answers] == [400, 400, 400, 413, 400]
    assert all(a.headers["content-type"].startswith("text/html") for a in answers)
    assert await fingerprint(services, tenant.workspace.id) == before


async def test_an_altered_or_foreign_token_is_the_same_404_and_changes_nothing(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, other_tenant: Tenant
) -> None:
    links = await subscribed_person(client, tenant, tenant.email_group, external_id="u1")
    theirs = await subscribed_person(
        client, other_tenant, other_tenant.email_group, external_id="u1"
    )
    token = links.unsubscribe.rsplit("/", 1)[1]
    claim = read_claim(token, LinkKind.UNSUBSCRIBE)
    assert claim is not None
    # The other workspace's token, its claim rewritten to name this workspace's person and group,
    # signed with the other workspace's secret: a token of another workspace.
    their_claim = read_claim(theirs.unsubscribe.rsplit("/", 1)[1], LinkKind.UNSUBSCRIBE)
    assert their_claim is not None
    their_secret = await services.links.verify(
        theirs.unsubscribe.rsplit("/", 1)[1], LinkKind.UNSUBSCRIBE
    )
    forged = sign(
        Claim(
            LinkKind.UNSUBSCRIBE,
            claim.workspace_id,
            claim.secret_id,
            claim.profile_id,
            claim.group_pk,
        ),
        their_secret.secret,
    )
    swapped = token[:-1] + ("A" if token[-1] != "A" else "B")
    before = await fingerprint(services)

    pages = []
    for bad in (swapped, forged, token[:-2], token + "A", "x", links.preferences.rsplit("/", 1)[1]):
        for method in ("GET", "POST"):
            response = await client.request(method, f"/unsubscribe/{bad}", data=ONE_CLICK)
            assert response.status_code == 404, (bad, method)
            pages.append(response.text)

    assert await fingerprint(services) == before
    # Every refusal reads the same: nothing tells a forged link from an altered or an old one.
    texts = {p.split("<main", 1)[1] for p in pages}
    assert len(texts) == 1
    assert "not valid" in pages[0]


async def test_a_rotated_secret_keeps_old_links_working_for_the_grace_only(
    settings: Settings, services: Services
) -> None:
    clock = SettableClock(datetime.now(UTC))
    async with services_at(settings, clock) as timed:
        tenant = await make_tenant(timed)
        transport = httpx.ASGITransport(app=create_app(settings, timed))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            old = await subscribed_person(http, tenant, tenant.email_group, external_id="u1")
            await timed.links.rotate(workspace_id=tenant.workspace.id, grace_seconds=3600)
            new = await links_for(http, tenant, tenant.email_group, external_id="u1")
            assert new.unsubscribe != old.unsubscribe

            clock.advance(timedelta(minutes=59))
            assert (await http.get(old.unsubscribe)).status_code == 200
            assert (await http.get(old.preferences)).status_code == 200
            clock.advance(timedelta(minutes=2))
            assert (await http.get(old.unsubscribe)).status_code == 404
            assert (await one_click(http, old.unsubscribe)).status_code == 404
            assert (await http.get(old.preferences)).status_code == 404
            assert await status(http, tenant, tenant.email_group, external_id="u1") == "Subscribed"
            assert (await one_click(http, new.unsubscribe)).status_code == 200

            # Without a grace, the old links stop at once.
            await timed.links.rotate(workspace_id=tenant.workspace.id, grace_seconds=0)
            assert (await http.get(new.unsubscribe)).status_code == 404


async def test_the_client_address_comes_through_trusted_proxies(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(
        settings, client=("10.0.0.2", 4000), trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),)
    ) as (
        http,
        _,
    ):
        links = await subscribed_person(http, tenant, tenant.email_group, external_id="u1")
        await http.post(
            links.unsubscribe, data=ONE_CLICK, headers={"X-Forwarded-For": "198.51.100.9, 10.0.0.1"}
        )
        last = (await records(services, tenant))[-1]

    assert last["client_ip"] == "198.51.100.9"


async def test_the_pages_are_limited_per_client_address(settings: Settings, tenant: Tenant) -> None:
    async with app_client(settings, rate_limit_public="3/minute") as (http, _):
        links = await subscribed_person(http, tenant, tenant.email_group, external_id="u1")
        answers = [await http.get(links.unsubscribe) for _ in range(4)]
        refused_post = await one_click(http, links.unsubscribe)
        status_now = await status(http, tenant, tenant.email_group, external_id="u1")

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert refused_post.status_code == 429
    assert status_now == "Subscribed"
