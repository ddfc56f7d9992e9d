"""Dashboard sign-in, sessions, CSRF and lockout, through the ASGI app, on both backends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.routing import Route

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.domain.operators import Operator
from subgroups.web.dashboard.app import CSP, dashboard_routes
from tests.clock import SettableClock, services_at
from tests.dashboard.helpers import PASSWORD, client_for, csrf_of, sign_in
from tests.factories import make_group, make_workspace


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
async def timed_services(settings: Settings, clock: SettableClock) -> AsyncIterator[Services]:
    async with services_at(settings, clock) as built:
        yield built


@pytest.fixture
async def web(timed_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(timed_services) as http:
        yield http


@pytest.fixture
async def operator(timed_services: Services) -> Operator:
    return await timed_services.operators.create(email="ops@example.com", password=PASSWORD)


def cookie_flags(response: httpx.Response, name: str) -> set[str]:
    """The attributes of the Set-Cookie header for `name`, lowercased."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return {part.strip().lower() for part in header.split(";")[1:]}


async def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(
    web: httpx.AsyncClient, operator: Operator, timed_services: Services
) -> None:
    workspace = await make_workspace(timed_services)
    wanted = f"/dashboard/w/{workspace.id}/keys"

    response = await web.get(wanted)

    assert response.status_code == 303
    assert (
        response.headers["location"]
        == f"/dashboard/sign-in?next=%2Fdashboard%2Fw%2F{workspace.id}%2Fkeys"
    )
    page = await web.get(response.headers["location"])
    assert f'name="next" value="{wanted}"' in page.text
    signed_in = await web.post(
        "/dashboard/sign-in",
        data={
            "csrf": csrf_of(page.text),
            "email": "OPS@example.com",
            "password": PASSWORD,
            "next": wanted,
        },
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == wanted
    assert (await web.get(wanted)).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/elsewhere"])
async def test_sign_in_never_sends_the_browser_outside_the_dashboard(
    web: httpx.AsyncClient, operator: Operator, target: str
) -> None:
    page = await web.get("/dashboard/sign-in")
    response = await web.post(
        "/dashboard/sign-in",
        data={
            "csrf": csrf_of(page.text),
            "email": "ops@example.com",
            "password": PASSWORD,
            "next": target,
        },
    )
    assert response.headers["location"] == "/dashboard/"


async def test_the_session_cookie_is_http_only_same_site_and_not_secure_over_http(
    web: httpx.AsyncClient, operator: Operator
) -> None:
    response = await sign_in(web)

    flags = cookie_flags(response, "subgroups_session")
    assert {"httponly", "path=/dashboard", "samesite=lax"} <= flags
    assert "secure" not in flags


async def test_the_session_cookie_is_secure_over_https(
    timed_services: Services, operator: Operator
) -> None:
    async with client_for(timed_services, base_url="https://testserver") as https:
        response = await sign_in(https)
    assert "secure" in cookie_flags(response, "subgroups_session")


async def test_the_session_cookie_is_secure_behind_a_tls_proxy_when_configured(
    timed_services: Services, operator: Operator
) -> None:
    behind_proxy = replace(
        timed_services, settings=replace(timed_services.settings, dashboard_secure_cookies="always")
    )
    async with client_for(behind_proxy) as http:
        page = await http.get("/dashboard/sign-in")
        assert "secure" in cookie_flags(page, "subgroups_sign_in")
        # httpx keeps a Secure cookie from plain http to itself: send the sign-in cookie by hand.
        http.cookies.set("subgroups_sign_in", csrf_of(page.text), path="/dashboard/sign-in")
        response = await http.post(
            "/dashboard/sign-in",
            data={"csrf": csrf_of(page.text), "email": "ops@example.com", "password": PASSWORD},
        )
    assert response.status_code == 303
    assert "secure" in cookie_flags(response, "subgroups_session")


async def test_a_sign_in_without_its_form_token_is_refused(
    web: httpx.AsyncClient, operator: Operator
) -> None:
    response = await web.post(
        "/dashboard/sign-in",
        data={"csrf": "forged", "email": "ops@example.com", "password": PASSWORD},
    )
    assert response.status_code == 403
    assert "subgroups_session" not in response.headers.get("set-cookie", "")


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    web: httpx.AsyncClient, operator: Operator
) -> None:
    wrong = await sign_in(web, password="not the password")
    unknown = await sign_in(web, email="nobody@example.com")

    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password" in wrong.text
    assert "Wrong email or password" in unknown.text


async def test_every_form_is_refused_without_the_session_csrf_token(
    web: httpx.AsyncClient, operator: Operator, timed_services: Services
) -> None:
    workspace = await make_workspace(timed_services)
    group = await make_group(timed_services, workspace.id)
    await sign_in(web)
    params = {
        "workspace_id": workspace.id,
        "group_id": group.id,
        "profile_id": 1,
        "key_id": 1,
        "endpoint_id": "any",
        "change_id": 1,
    }
    posts = [
        re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(params[m.group(1)]), route.path)
        for route in dashboard_routes()
        if isinstance(route, Route) and "POST" in (route.methods or ()) and route.path != "/sign-in"
    ]
    # sign out; create, edit, archive a group; set a profile's state, erase a profile; save the
    # person pages' branding; upload an import; create, revoke a key; create, disable, enable a
    # webhook endpoint, rotate its secret, replay after, replay one
    assert len(posts) == 16

    for path in posts:
        for data in ({}, {"csrf": "wrong", "name": "x", "channel": "email"}):
            response = await web.post(f"/dashboard{path}", data=data)
            assert (path, response.status_code) == (path, 403)

    [unchanged] = await timed_services.groups.list(workspace_id=workspace.id)
    assert (unchanged.id, unchanged.archived_at) == (group.id, None)
    assert (
        await web.get(f"/dashboard/w/{workspace.id}/groups")
    ).status_code == 200  # still signed in


async def test_five_failures_lock_the_email_out_from_that_address_for_fifteen_minutes(
    web: httpx.AsyncClient, operator: Operator, timed_services: Services, clock: SettableClock
) -> None:
    for attempt in range(1, 5):
        assert (await sign_in(web, password=f"wrong {attempt}")).status_code == 401
    fifth = await sign_in(web, password="wrong 5")
    assert fifth.status_code == 429
    assert "Too many failed sign-ins" in fifth.text
    assert int(fifth.headers["retry-after"]) > 0

    clock.at += timedelta(minutes=14)
    assert (await sign_in(web)).status_code == 429  # even the right password, while locked
    async with client_for(timed_services, ip="198.51.100.9") as elsewhere:
        assert (await sign_in(elsewhere)).status_code == 303  # other addresses are not locked out

    clock.at += timedelta(minutes=2)
    assert (await sign_in(web)).status_code == 303


async def test_failures_spread_beyond_the_window_do_not_lock(
    web: httpx.AsyncClient, operator: Operator, clock: SettableClock
) -> None:
    for _ in range(4):
        assert (await sign_in(web, password="wrong")).status_code == 401
    clock.at += timedelta(minutes=16)
    for _ in range(4):
        assert (await sign_in(web, password="wrong")).status_code == 401
    assert (await sign_in(web)).status_code == 303


async def test_a_success_forgets_earlier_failures(
    web: httpx.AsyncClient, operator: Operator
) -> None:
    for _ in range(4):
        await sign_in(web, password="wrong")
    assert (await sign_in(web)).status_code == 303
    for _ in range(4):
        assert (await sign_in(web, password="wrong")).status_code == 401


async def test_signing_out_ends_the_session_on_the_server(
    web: httpx.AsyncClient, operator: Operator, timed_services: Services
) -> None:
    workspace = await make_workspace(timed_services)
    page_path = f"/dashboard/w/{workspace.id}/groups"
    await sign_in(web)
    token = web.cookies["subgroups_session"]
    page = await web.get(page_path)

    signed_out = await web.post("/dashboard/sign-out", data={"csrf": csrf_of(page.text)})

    assert signed_out.status_code == 303
    web.cookies.set("subgroups_session", token, path="/dashboard")  # a copy kept by an attacker
    assert (await web.get(page_path)).status_code == 303


async def test_a_session_expires(
    web: httpx.AsyncClient, operator: Operator, timed_services: Services, clock: SettableClock
) -> None:
    workspace = await make_workspace(timed_services)
    await sign_in(web)
    assert (await web.get(f"/dashboard/w/{workspace.id}/groups")).status_code == 200
    clock.at += timedelta(hours=12, seconds=1)
    assert (await web.get(f"/dashboard/w/{workspace.id}/groups")).status_code == 303


async def test_a_new_password_ends_every_session(
    web: httpx.AsyncClient, operator: Operator, timed_services: Services
) -> None:
    workspace = await make_workspace(timed_services)
    await sign_in(web)
    await timed_services.operators.set_password(email=operator.email, password="another long one")
    assert (await web.get(f"/dashboard/w/{workspace.id}/groups")).status_code == 303
    assert (await sign_in(web, password="another long one")).status_code == 303


async def test_pages_carry_the_dashboard_csp_and_are_not_cached(
    web: httpx.AsyncClient, operator: Operator
) -> None:
    page = await web.get("/dashboard/sign-in")
    asset = await web.get("/dashboard/static/app.css?v=1")

    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP
    assert "http" not in CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_unknown_dashboard_pages_are_html_not_json(
    web: httpx.AsyncClient, operator: Operator
) -> None:
    await sign_in(web)
    missing_workspace = await web.get("/dashboard/w/999/groups")
    missing_group = await web.get("/dashboard/w/999/groups/nope")

    assert missing_workspace.status_code == 404
    assert missing_workspace.headers["content-type"].startswith("text/html")
    assert "There is no such workspace." in missing_workspace.text
    assert missing_group.status_code == 404


async def test_with_no_workspace_the_dashboard_says_how_to_make_one(
    web: httpx.AsyncClient, operator: Operator
) -> None:
    await sign_in(web)

    home = await web.get("/dashboard/")

    assert home.status_code == 200
    assert "No workspace yet" in home.text
    assert "subgroups workspace create" in home.text


async def test_the_workspace_switcher_keeps_the_section(
    web: httpx.AsyncClient, operator: Operator, timed_services: Services
) -> None:
    first, second = await make_workspace(timed_services), await make_workspace(timed_services)
    await sign_in(web)

    home = await web.get("/dashboard/")
    switched = await web.get(f"/dashboard/switch?workspace={second.id}&section=keys")
    nonsense = await web.get("/dashboard/switch?workspace=x&section=admin")

    assert home.headers["location"] == f"/dashboard/w/{first.id}/groups"
    assert switched.headers["location"] == f"/dashboard/w/{second.id}/keys"
    assert nonsense.headers["location"] == "/dashboard/"
