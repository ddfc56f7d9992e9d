"""Every authenticated endpoint, as data, so each security property is checked on all of them.

To cover a new endpoint, add one `Endpoint` line: its permission, its success status, and how to
build a request that names a group and an external id. Endpoints whose route the app does not
have (yet) are left out of the matrices rather than skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from subgroups.domain.models import Permission
from subgroups.web.app import routes


@dataclass(frozen=True)
class Call:
    """One request, without its credentials."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None

    async def send(
        self, client: httpx.AsyncClient, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await client.request(
            self.method, self.path, params=self.params, json=self.json, headers=headers
        )


def _set_v1(group_id: str, external_id: str) -> Call:
    body = {
        "subscription_group_id": group_id,
        "subscription_state": "subscribed",
        "external_id": external_id,
    }
    return Call("POST", "/subscription/status/set", json=body)


def _set_v2(group_id: str, external_id: str) -> Call:
    item = {
        "subscription_group_id": group_id,
        "subscription_state": "subscribed",
        "external_ids": [external_id],
    }
    return Call("POST", "/v2/subscription/status/set", json={"subscription_groups": [item]})


def _status_get(group_id: str, external_id: str) -> Call:
    params = {"subscription_group_id": group_id, "external_id": external_id}
    return Call("GET", "/subscription/status/get", params=params)


def _user_status(_group_id: str, external_id: str) -> Call:
    return Call("GET", "/subscription/user/status", params={"external_id": external_id})


@dataclass(frozen=True)
class Endpoint:
    name: str
    permission: Permission
    success: int
    build: Callable[[str, str], Call]  # (subscription group id, external id) -> request
    names_a_group: bool = True

    @property
    def method(self) -> str:
        return self.build("g", "x").method

    @property
    def path(self) -> str:
        return self.build("g", "x").path

    @property
    def writes(self) -> bool:
        return self.method == "POST"


ALL_ENDPOINTS = (
    Endpoint("set v1", Permission.STATUS_SET, 201, _set_v1),
    Endpoint("set v2", Permission.STATUS_SET, 201, _set_v2),
    Endpoint("status get", Permission.STATUS_GET, 200, _status_get),
    Endpoint("user status", Permission.GROUPS_GET, 200, _user_status, names_a_group=False),
)

_ROUTED = {(method, route.path) for route in routes() for method in (route.methods or ())}
ENDPOINTS = tuple(e for e in ALL_ENDPOINTS if (e.method, e.path) in _ROUTED)
ENDPOINT_IDS = [e.name for e in ENDPOINTS]
