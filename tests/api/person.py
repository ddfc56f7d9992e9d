"""Builders shared by the tests of the person's own say (contract §11)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from subgroups.container import Services
from subgroups.domain.feed import record_document
from subgroups.domain.models import Group
from subgroups.storage.change_records import read_changes
from tests.api.helpers import set_state
from tests.factories import Tenant

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Links:
    unsubscribe: str  # paths, as a client of the test app requests them
    preferences: str
    document: dict[str, Any]


async def links_for(
    client: httpx.AsyncClient, tenant: Tenant, group: Group, **identifier: str
) -> Links:
    response = await client.get(
        "/links/unsubscribe",
        params={"subscription_group_id": group.id, **identifier},
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Links(urlsplit(body["url"]).path, urlsplit(body["preferences_url"]).path, body)


async def subscribed_person(
    client: httpx.AsyncClient, tenant: Tenant, group: Group, **identifiers: str
) -> Links:
    """A person subscribed to `group`, and their links for it."""
    await set_state(client, tenant, group, "subscribed", **identifiers)
    first = next(iter(identifiers))
    return await links_for(client, tenant, group, **{first: identifiers[first]})


async def one_click(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    return await client.post(path, data=ONE_CLICK, headers=headers)


def form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found is not None, page
    return found[1]


async def records(services: Services, tenant: Tenant) -> list[dict[str, Any]]:
    """The workspace's records as the feed shows them, read straight from the table (the feed on
    PostgreSQL may hold the newest back while a transaction elsewhere on the server is open)."""
    found = await read_changes(
        services.db, tenant.workspace.id, after=None, limit=None, through=None
    )
    return [record_document(c) for c in found]


async def status(client: httpx.AsyncClient, tenant: Tenant, group: Group, **identifier: str) -> str:
    response = await client.get(
        "/subscription/status/get",
        params={"subscription_group_id": group.id, **identifier},
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.text
    [value] = response.json()["status"].values()
    return str(value)
