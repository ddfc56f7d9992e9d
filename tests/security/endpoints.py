"""Every authenticated endpoint, as data, so each security property is checked on all of them.

To cover a new endpoint, add one `Endpoint` line: its permission, its success status, and how to
build a request that names a group and an external id. Endpoints whose route the app does not
have (yet) are left out of the matrices rather than skipped.

Errors are the one JSON shape everywhere; a success body is JSON unless the endpoint says it
answers a download (`answers`), which `assert_answer` checks for instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from subgroups.domain.models import Permission
from subgroups.services.ratelimits import Pool
from subgroups.web.app import routes

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
NDJSON = "application/x-ndjson"
# The import each security test's workspaces hold (see conftest.py), named after the group it is
# about, so that a request built from a group id finds the import of that group's workspace.
_IMPORTS = uuid.UUID("5f0c43be-1f57-4d7e-9a4e-3a0d7d5bb0a1")


def import_id_of(group_id: str) -> str:
    return str(uuid.uuid5(_IMPORTS, group_id))


@dataclass(frozen=True)
class Call:
    """One request, without its credentials."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Text of the request that its answer may repeat, which a comparison of two answers masks.
    names: tuple[str, ...] = ()

    async def send(
        self, client: httpx.AsyncClient, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await client.request(
            self.method,
            self.path,
            params=self.params,
            json=self.json,
            content=self.content,
            headers={**self.headers, **(headers or {})},
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


def import_file(group_id: str, external_id: str) -> bytes:
    return (
        "external_id,subscription_group_id,subscription_state\n"
        f"{external_id},{group_id},subscribed\n"
    ).encode()


def _send_import(group_id: str, external_id: str) -> Call:
    return Call(
        "POST",
        "/imports",
        content=import_file(group_id, external_id),
        headers={"Content-Type": "text/csv"},
    )


def _get_import(group_id: str, _external_id: str) -> Call:
    import_id = import_id_of(group_id)
    return Call("GET", f"/imports/{import_id}", names=(import_id,))


def _import_errors(group_id: str, _external_id: str) -> Call:
    import_id = import_id_of(group_id)
    return Call("GET", f"/imports/{import_id}/errors", names=(import_id,))


def _export_states(group_id: str, _external_id: str) -> Call:
    return Call("GET", "/exports/states", params={"group": group_id})


def _export_changes(group_id: str, _external_id: str) -> Call:
    return Call("GET", "/exports/changes", params={"group": group_id, "format": "ndjson"})


@dataclass(frozen=True)
class Endpoint:
    name: str
    permission: Permission
    success: int
    build: Callable[[str, str], Call]  # (subscription group id, external id) -> request
    # The answer to a request naming another workspace's group (or import), as to an unknown one;
    # None when what the request names is not looked up before the answer.
    unknown: int | None = 400
    answers: str = JSON  # the success body's media type
    pool: Pool = Pool.GET
    # Its writes are queued, and made by the import loop, not before the answer.
    queued: bool = False

    @property
    def method(self) -> str:
        return self.build("g", "x").method

    @property
    def path(self) -> str:
        return self.build("g", "x").path

    @property
    def route(self) -> str:
        return self.path.replace(import_id_of("g"), "{import_id}")

    @property
    def writes(self) -> bool:
        return self.method == "POST"

    @property
    def json_body(self) -> bool:
        return self.build("g", "x").json is not None


def assert_answer(endpoint: Endpoint, response: httpx.Response) -> None:
    """A clean answer: never a 5xx; an error in the one JSON shape; a success in the endpoint's
    media type (a download decodes as UTF-8 text)."""
    assert response.status_code < 500, response.text
    media = response.headers.get("content-type", "")
    if response.status_code >= 400 or endpoint.answers == JSON:
        assert media == JSON, (response.status_code, media)
        body = response.json()
        assert isinstance(body, dict)
        assert isinstance(body.get("message"), str)
        if response.status_code >= 400:
            assert set(body) == {"message"}, body
        return
    # The format a request asks for (`format=`) may differ from the endpoint's own request's.
    assert media in (CSV, NDJSON), media
    response.content.decode()


ALL_ENDPOINTS = (
    Endpoint("set v1", Permission.STATUS_SET, 201, _set_v1, pool=Pool.SET),
    Endpoint("set v2", Permission.STATUS_SET, 201, _set_v2, pool=Pool.SET),
    Endpoint("status get", Permission.STATUS_GET, 200, _status_get),
    Endpoint("user status", Permission.GROUPS_GET, 200, _user_status, unknown=None),
    Endpoint(
        "send import",
        Permission.IMPORTS_WRITE,
        202,
        _send_import,
        unknown=None,  # the rows' groups are looked up when the import runs
        pool=Pool.SET,
        queued=True,
    ),
    Endpoint("get import", Permission.IMPORTS_WRITE, 200, _get_import, unknown=404),
    Endpoint(
        "import errors", Permission.IMPORTS_WRITE, 200, _import_errors, unknown=404, answers=CSV
    ),
    Endpoint("export states", Permission.EXPORTS_GET, 200, _export_states, answers=CSV),
    Endpoint("export changes", Permission.EXPORTS_GET, 200, _export_changes, answers=NDJSON),
)

_ROUTED = {(method, route.path) for route in routes() for method in (route.methods or ())}
ENDPOINTS = tuple(e for e in ALL_ENDPOINTS if (e.method, e.route) in _ROUTED)
ENDPOINT_IDS = [e.name for e in ENDPOINTS]


def endpoint_named(name: str) -> Endpoint:
    [found] = [e for e in ALL_ENDPOINTS if e.name == name]
    return found
