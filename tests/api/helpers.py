"""Small builders shared by the v1 contract tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.domain.models import Group
from subgroups.web.app import create_app
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


async def set_state(
    client: httpx.AsyncClient, tenant: Tenant, group: Group, state: str, **identifiers: Any
) -> None:
    """Sets a state through the v1 endpoint, and insists it worked."""
    body = {"subscription_group_id": group.id, "subscription_state": state, **identifiers}
    response = await client.post("/subscription/status/set", json=body, headers=tenant.auth)
    assert response.status_code == 201, response.text
