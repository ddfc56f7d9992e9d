"""One-click unsubscribe as mail providers and link scanners really call it (RFC 8058), against a
real server process on both backends: curl's form POST, and scanners' GETs with and without
following redirects."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from subgroups.container import Services
from tests.factories import Tenant
from tests.servers import ServerProcess

pytestmark = pytest.mark.e2e


def curl(*arguments: str) -> tuple[int, str, str]:
    """curl's status code, response headers and body."""
    done = subprocess.run(
        ["curl", "-sS", "-D", "-", "-w", "\nSTATUS %{http_code}", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rest, _, code = done.stdout.rpartition("\nSTATUS ")
    # With -L, the head of every response is there; the last one is the answer's.
    *_, head, body = rest.split("\r\n\r\n") if "\r\n\r\n" in rest else ("", rest)
    return int(code), head.lower(), body


async def person_with_link(http: httpx.AsyncClient, tenant: Tenant, email: str) -> str:
    body = {
        "subscription_group_id": tenant.email_group.id,
        "subscription_state": "subscribed",
        "email": email,
    }
    assert (
        await http.post("/subscription/status/set", json=body, headers=tenant.auth)
    ).status_code == 201
    links = await http.get(
        "/links/unsubscribe",
        params={"subscription_group_id": tenant.email_group.id, "email": email},
        headers=tenant.auth,
    )
    assert links.status_code == 200, links.text
    url: str = links.json()["url"]
    assert url.startswith(str(http.base_url).rstrip("/"))
    return url


async def state_of(http: httpx.AsyncClient, tenant: Tenant, email: str) -> str:
    response = await http.get(
        "/subscription/status/get",
        params={"subscription_group_id": tenant.email_group.id, "email": email},
        headers=tenant.auth,
    )
    return str(response.json()["status"][email])


async def test_a_mail_providers_post_unsubscribes(
    server: ServerProcess, http: httpx.AsyncClient, e2e_services: Services, tenant: Tenant
) -> None:
    url = await person_with_link(http, tenant, "reader@example.com")

    code, headers, body = curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", url)

    assert code == 200
    assert "set-cookie" not in headers
    assert "location:" not in headers
    assert "<a " not in body
    assert await state_of(http, tenant, "reader@example.com") == "Unsubscribed"
    [record] = [
        c
        for c in await e2e_services.reports.profile_changes(
            workspace_id=tenant.workspace.id,
            profile_ids=[
                p.id
                for p in await e2e_services.subscriptions.profiles(
                    workspace_id=tenant.workspace.id, kind="email", value="reader@example.com"
                )
            ],
        )
        if c.source.value == "One-Click Unsubscribe"
    ]
    assert record.client_ip == "127.0.0.1"
    assert record.user_agent is not None
    assert record.user_agent.startswith("curl/")

    # The provider retries: harmless.
    assert curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", url)[0] == 200


async def test_link_scanners_gets_change_nothing(
    server: ServerProcess, http: httpx.AsyncClient, tenant: Tenant
) -> None:
    url = await person_with_link(http, tenant, "scanned@example.com")

    for _ in range(3):
        assert curl(url)[0] == 200
        assert curl("-L", url)[0] == 200
        assert curl("-I", url)[0] == 200
        assert curl("-L", "-A", "Mozilla/5.0 (compatible; SafeLinks)", url)[0] == 200

    assert await state_of(http, tenant, "scanned@example.com") == "Subscribed"


async def test_an_altered_link_is_refused(
    server: ServerProcess, http: httpx.AsyncClient, tenant: Tenant
) -> None:
    url = await person_with_link(http, tenant, "altered@example.com")
    altered = url[:-1] + ("A" if url[-1] != "A" else "B")

    code, _, body = curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", altered)

    assert code == 404
    assert "not valid" in body
    assert await state_of(http, tenant, "altered@example.com") == "Subscribed"
