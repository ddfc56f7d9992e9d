"""Small builders shared by the v1 contract tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import Group
from subgroups.web.app import create_app
from tests.conftest import POSTGRES_ADMIN_URL
from tests.factories import Tenant

PATH = "/subscription/status/set"
TEST_CLIENT_IP = "203.0.113.7"  # the address the `client` fixture connects from

INVALID_KEY = {"message": "Invalid API key"}
NOT_AN_OBJECT = {"message": "Request body must be a JSON object"}


def body(group_id: str, state: str = "subscribed", /, **identifiers: Any) -> dict[str, Any]:
    return {"subscription_group_id": group_id, "subscription_state": state, **identifiers}


async def post(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any]
) -> httpx.Response:
    return await client.post(PATH, json=payload, headers=tenant.auth)


@asynccontextmanager
async def client_at(
    settings: Settings, services: Services, address: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real app that connects from `address`."""
    transport = httpx.ASGITransport(app=create_app(settings, services), client=(address, 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@asynccontextmanager
async def unreachable_client(backend: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real app over a database of `backend` that cannot be reached."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'no-such-directory' / 'subgroups.db'}"
    else:
        url = f"{POSTGRES_ADMIN_URL.rpartition('/')[0]}/subgroups_no_such_database"
    settings = Settings(database_url=url)
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await services.aclose()


async def set_state(
    client: httpx.AsyncClient, tenant: Tenant, group: Group, state: str, **identifiers: Any
) -> None:
    """Sets a state through the v1 endpoint, and insists it worked."""
    body = {"subscription_group_id": group.id, "subscription_state": state, **identifiers}
    response = await client.post("/subscription/status/set", json=body, headers=tenant.auth)
    assert response.status_code == 201, response.text
