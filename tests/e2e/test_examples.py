"""Braze's documented example requests, sent to a real server process; the result read back with the
real CLI process."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import orjson
import pytest

from subgroups.container import Services
from subgroups.domain.models import ProfileView
from subgroups.domain.reads import IdentifierKind
from tests.factories import Tenant
from tests.servers import environment

pytestmark = pytest.mark.e2e

PATH = "/subscription/status/set"
SUCCESS = {"message": "success"}


async def subgroups_cli(database_url: str, *args: str) -> Any:
    """Runs `python -m subgroups … --json` as its own process and returns its JSON document."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "subgroups", *args, "--database-url", database_url, "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment(),
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return orjson.loads(stdout)


async def profile(
    services: Services, tenant: Tenant, kind: IdentifierKind, value: str
) -> ProfileView:
    [found] = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind=kind, value=value
    )
    return found


def states(found: ProfileView) -> dict[str, str]:
    return {s.group_id: s.state.value for s in found.subscriptions}


async def test_email_group_with_an_external_id_and_an_email(
    http: httpx.AsyncClient, e2e_database: str, tenant: Tenant
) -> None:
    """Checked with the real CLI, in a process of its own."""
    response = await http.post(
        PATH,
        headers={**tenant.auth, "Content-Type": "application/json"},
        content=orjson.dumps(
            {
                "subscription_group_id": tenant.email_group.id,
                "subscription_state": "unsubscribed",
                "external_id": "example-user",
                "email": "example@email.com",
            }
        ),
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)
    shown = await subgroups_cli(
        e2e_database,
        "profile", "show", "--workspace", str(tenant.workspace.id), "--external-id", "example-user",
    )  # fmt: skip
    [found] = shown["profiles"]
    assert (found["external_id"], found["email"]) == ("example-user", "example@email.com")
    assert [(s["group_id"], s["state"]) for s in found["subscriptions"]] == [
        (tenant.email_group.id, "unsubscribed")
    ]


async def test_sms_group_with_phone_numbers(
    http: httpx.AsyncClient, tenant: Tenant, e2e_services: Services
) -> None:
    response = await http.post(
        PATH,
        headers=tenant.auth,
        json={
            "subscription_group_id": tenant.sms_group.id,
            "subscription_state": "subscribed",
            "phone": ["+12223334444", "+11112223333"],
        },
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)
    for phone in ("+12223334444", "+11112223333"):
        found = await profile(e2e_services, tenant, "phone", phone)
        assert (found.external_id, found.phone) == (None, phone)
        assert states(found) == {tenant.sms_group.id: "subscribed"}


async def test_legacy_api_key_in_the_body(
    http: httpx.AsyncClient, tenant: Tenant, e2e_services: Services
) -> None:
    response = await http.post(
        PATH,
        json={
            "api_key": tenant.key,
            "subscription_group_id": tenant.email_group.id,
            "subscription_state": "subscribed",
            "email": "example@email.com",
        },
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)
    found = await profile(e2e_services, tenant, "email", "example@email.com")
    assert states(found) == {tenant.email_group.id: "subscribed"}
    [change] = await e2e_services.subscriptions.changes(workspace_id=tenant.workspace.id)
    [key] = await e2e_services.keys.list(workspace_id=tenant.workspace.id)
    assert (change.api_key_id, change.client_ip, change.request_id) == (
        key.id,
        "127.0.0.1",
        response.headers["x-request-id"],
    )


async def test_errors_over_the_wire(http: httpx.AsyncClient, tenant: Tenant) -> None:
    unknown = await http.post(
        PATH, headers=tenant.auth, json={"subscription_group_id": "nope", "subscription_state": "x"}
    )
    no_key = await http.post(PATH, json={"subscription_group_id": tenant.email_group.id})
    too_large = await http.post(
        PATH,
        headers={**tenant.auth, "Content-Type": "application/json"},
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
    )
    missing = await http.get("/nope")
    healthy = await http.get("/healthz")

    assert [(r.status_code, r.json()) for r in (unknown, no_key, too_large, missing)] == [
        (400, {"message": "subscription_state must be 'subscribed' or 'unsubscribed'"}),
        (401, {"message": "Invalid API key"}),
        (413, {"message": "Request body too large"}),
        (404, {"message": "Not Found"}),
    ]
    assert healthy.status_code == 200


async def test_readyz_reports_a_current_schema(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"message": "ok"})
