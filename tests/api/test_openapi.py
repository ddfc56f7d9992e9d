"""The OpenAPI document and the /docs page: served as shipped, and true to the app's routes and replies."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterator
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Route

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.web.api.reference import document
from subgroups.web.app import create_app
from tests.api.helpers import client_at
from tests.factories import Tenant, make_key

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def documented_operations() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method in METHODS
    }


def documented_statuses(method: str, path: str) -> set[int]:
    return {int(status) for status in document()["paths"][path][method.lower()]["responses"]}


def documented_messages(method: str, path: str, status: int) -> set[str]:
    response = document()["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = document()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    examples = response["content"]["application/json"].get("examples", {}).values()
    return {e["value"]["message"] for e in examples}


def app_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, Route]]:
    """The API's own routes. A Mount is another application with pages of its own (the dashboard,
    static files), not part of the API the document describes; a route may also opt out with
    include_in_schema=False.
    """
    for route in routes:
        if isinstance(route, Route) and route.include_in_schema:
            yield route.path, route


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(document())
    assert document()["openapi"].startswith("3.1.")


def test_the_document_carries_the_package_version() -> None:
    assert document()["info"]["version"] == version("subgroups")


def test_every_route_is_documented_and_every_documented_operation_exists(
    settings: Settings, services: Services
) -> None:
    app = create_app(settings, services)
    # HEAD comes free with every GET in Starlette, and HTTP defines it by GET: not listed.
    served = {
        (method, path)
        for path, route in app_routes(app.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }

    assert served == documented_operations()


async def test_the_served_document_is_the_shipped_file(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    shipped = files("subgroups.web.api").joinpath("openapi.json").read_bytes()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == shipped
    assert orjson.loads(response.content) == document()


async def test_the_docs_page_describes_every_operation_and_loads_nothing_from_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for method, path in documented_operations():
        operation = document()["paths"][path][method.lower()]
        assert f"{method}</span> <code>{path}</code>" in page
        assert operation["summary"] in page
    links = re.findall(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]+)""", page)
    assert links
    assert all(link.startswith(("#", "/")) and not link.startswith("//") for link in links)
    assert "<script" not in page
    assert "@import" not in page
    assert "url(" not in page
    [style] = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = response.headers["content-security-policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy


# --- every documented status code is one the app really sends, with documented messages ---

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
V1 = "/subscription/status/set"
V2 = "/v2/subscription/status/set"
GET = "/subscription/status/get"
USERS = "/subscription/user/status"
CHANGES = "/changes"
LINKS = "/links/unsubscribe"
PREFERENCE_CENTER = "/preference_center/v1/{preference_center_id}/url/{user_id}"
IMPORTS = "/imports"
IMPORT = "/imports/{import_id}"
IMPORT_ERRORS = "/imports/{import_id}/errors"
EXPORT_STATES = "/exports/states"
EXPORT_CHANGES = "/exports/changes"
UNKNOWN_IMPORT = "00000000-0000-4000-8000-000000000000"  # the id of the document's 404 example
# Documented but not provoked here: 429 belongs to the rate limiter and is tested with it, 503
# needs a database that cannot be reached (tests/api/test_request_body.py), and no well-formed
# request should ever produce a 500.
NOT_PROVOKED = {429, 500, 503}


class Provoke:
    """Requests that provoke each status of each operation, built against one tenant."""

    def __init__(self, tenant: Tenant, *, get_only_key: str, set_only_key: str) -> None:
        self.tenant = tenant
        self.get_only = {"Authorization": f"Bearer {get_only_key}"}
        self.set_only = {"Authorization": f"Bearer {set_only_key}"}

    def calls(self, method: str, path: str) -> dict[int, list[Call]]:
        auth = self.tenant.auth
        group = self.tenant.email_group.id
        if path == IMPORTS:
            return self._import_calls()
        if path in (IMPORT, IMPORT_ERRORS):
            return self._import_read_calls(path)
        if path in (EXPORT_STATES, EXPORT_CHANGES):
            return self._export_calls(path)
        if method == "POST":
            body: dict[str, Any] = (
                {
                    "subscription_group_id": group,
                    "subscription_state": "subscribed",
                    "external_id": "u",
                }
                if path == V1
                else {
                    "subscription_groups": [
                        {
                            "subscription_group_id": group,
                            "subscription_state": "subscribed",
                            "external_ids": ["u"],
                        }
                    ]
                }
            )
            return {
                201: [lambda c: c.post(path, json=body, headers=auth)],
                400: [
                    lambda c: c.post(path, json={}, headers=auth),
                    lambda c: c.post(path, content=b"[]", headers=auth),
                ],
                401: [lambda c: c.post(path, json=body)],
                403: [lambda c: c.post(path, json=body, headers=self.get_only)],
                413: [lambda c: c.post(path, content=b" " * (1024 * 1024 + 1), headers=auth)],
                415: [
                    lambda c: c.post(
                        path, content=b"{}", headers={**auth, "Content-Type": "text/plain"}
                    )
                ],
            }
        if path in (LINKS, PREFERENCE_CENTER):
            return self._link_calls(path)
        if path == CHANGES:
            return {
                200: [lambda c: c.get(path, params={"after": "0"}, headers=auth)],
                400: [
                    lambda c: c.get(path, params={"after": "-1"}, headers=auth),
                    lambda c: c.get(path, params={"limit": "0"}, headers=auth),
                    lambda c: c.get(f"{path}?after=%FF", headers=auth),
                ],
                401: [lambda c: c.get(path)],
                403: [lambda c: c.get(path, headers=self.get_only)],
            }
        where = {"subscription_group_id": group} if path == GET else {}
        query = {**where, "external_id": "u"}
        both_contacts = {**where, "email": "a@example.com", "phone": "+14155552671"}
        permission_denied = self.get_only if path == USERS else self.set_only
        return {
            200: [lambda c: c.get(path, params=query, headers=auth)],
            400: [
                lambda c: c.get(path, headers=auth),
                lambda c: c.get(path, params=both_contacts, headers=auth),
            ],
            401: [lambda c: c.get(path, params=query)],
            403: [lambda c: c.get(path, params=query, headers=permission_denied)],
        }

    def _csv(self) -> bytes:
        group = self.tenant.email_group.id
        return (
            f"external_id,subscription_group_id,subscription_state\nu,{group},subscribed\n".encode()
        )

    def _import_calls(self) -> dict[int, list[Call]]:
        auth = {**self.tenant.auth, "Content-Type": "text/csv"}
        get_only = {**self.get_only, "Content-Type": "text/csv"}
        csv_file = self._csv()
        return {
            202: [lambda c: c.post(IMPORTS, content=csv_file, headers=auth)],
            400: [
                lambda c: c.post(IMPORTS, content=b"", headers=auth),
                lambda c: c.post(f"{IMPORTS}?dry_run=maybe", content=csv_file, headers=auth),
            ],
            401: [lambda c: c.post(IMPORTS, content=csv_file)],
            403: [lambda c: c.post(IMPORTS, content=csv_file, headers=get_only)],
            # Declared, not sent: the limit is refused on the Content-Length alone.
            413: [
                lambda c: c.post(
                    IMPORTS, content=csv_file, headers={**auth, "Content-Length": str(1 << 40)}
                )
            ],
            415: [
                lambda c: c.post(
                    IMPORTS,
                    content=csv_file,
                    headers={**auth, "Content-Type": "application/json"},
                )
            ],
        }

    def _import_read_calls(self, path: str) -> dict[int, list[Call]]:
        auth = self.tenant.auth
        unknown = path.replace("{import_id}", UNKNOWN_IMPORT)
        csv_file = self._csv()

        async def of_a_new_import(c: httpx.AsyncClient) -> httpx.Response:
            sent = await c.post(
                IMPORTS, content=csv_file, headers={**auth, "Content-Type": "text/csv"}
            )
            url = path.replace("{import_id}", sent.json()["import_id"])
            return await c.get(url, headers=auth)

        return {
            200: [of_a_new_import],
            401: [lambda c: c.get(unknown)],
            403: [lambda c: c.get(unknown, headers=self.get_only)],
            404: [lambda c: c.get(unknown, headers=auth)],
        }

    def _export_calls(self, path: str) -> dict[int, list[Call]]:
        auth = self.tenant.auth
        moment = "as_of" if path == EXPORT_STATES else "since"
        return {
            200: [
                lambda c: c.get(path, headers=auth),
                lambda c: c.get(path, params={"format": "ndjson"}, headers=auth),
            ],
            400: [
                lambda c: c.get(path, params={"format": "xml"}, headers=auth),
                lambda c: c.get(path, params={"group": "no-such-group"}, headers=auth),
                lambda c: c.get(path, params={moment: "yesterday"}, headers=auth),
                lambda c: c.get(f"{path}?group=%FF", headers=auth),
            ],
            401: [lambda c: c.get(path)],
            403: [lambda c: c.get(path, headers=self.get_only)],
        }

    def _link_calls(self, path: str) -> dict[int, list[Call]]:
        auth = self.tenant.auth
        group = self.tenant.email_group.id

        async def with_person(c: httpx.AsyncClient, url: str, **params: str) -> httpx.Response:
            person = {"subscription_group_id": group, "subscription_state": "subscribed"}
            await c.post(V1, json={**person, "external_id": "u"}, headers=auth)
            return await c.get(url, params=params, headers=auth)

        if path == PREFERENCE_CENTER:
            url = "/preference_center/v1/any/url/u"
            return {
                200: [lambda c: with_person(c, url)],
                400: [lambda c: c.get("/preference_center/v1/any/url/user-1", headers=auth)],
                401: [lambda c: c.get(url)],
                403: [lambda c: c.get(url, headers=self.get_only)],
            }
        query = {"subscription_group_id": group, "external_id": "u"}
        return {
            200: [lambda c: with_person(c, path, **query)],
            400: [
                lambda c: c.get(path, headers=auth),
                lambda c: c.get(path, params={**query, "external_id": "user-1"}, headers=auth),
            ],
            401: [lambda c: c.get(path, params=query)],
            403: [lambda c: c.get(path, params=query, headers=self.get_only)],
        }


@pytest.fixture
async def provoke(services: Services, tenant: Tenant) -> Provoke:
    return Provoke(
        tenant,
        get_only_key=await make_key(
            services, tenant.workspace.id, permissions=["subscription.status.get"]
        ),
        set_only_key=await make_key(
            services, tenant.workspace.id, permissions=["subscription.status.set"]
        ),
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", V1),
        ("POST", V2),
        ("GET", GET),
        ("GET", USERS),
        ("GET", CHANGES),
        ("GET", LINKS),
        ("GET", PREFERENCE_CENTER),
        ("POST", IMPORTS),
        ("GET", IMPORT),
        ("GET", IMPORT_ERRORS),
        ("GET", EXPORT_STATES),
        ("GET", EXPORT_CHANGES),
    ],
)
async def test_documented_statuses_are_the_ones_sent_and_their_messages_are_documented(
    client: httpx.AsyncClient, provoke: Provoke, method: str, path: str
) -> None:
    calls = provoke.calls(method, path)
    seen: dict[int, set[str | None]] = {}
    for expected, provokers in calls.items():
        for call in provokers:
            response = await call(client)
            assert response.status_code == expected, response.text
            # Downloads (CSV, NDJSON) succeed with the file itself; every error is JSON.
            json_body = response.headers["content-type"] == "application/json"
            message = response.json()["message"] if json_body else None
            seen.setdefault(response.status_code, set()).add(message)

    assert set(seen) | NOT_PROVOKED == documented_statuses(method, path)
    for status, messages in seen.items():
        if status >= 400:
            assert messages <= set(documented_messages(method, path, status)), status


async def test_service_routes_send_their_documented_statuses(
    client: httpx.AsyncClient, settings: Settings, services: Services, tmp_path: Path
) -> None:
    not_migrated = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    bare_services = build_services(not_migrated)
    try:
        transport = httpx.ASGITransport(app=create_app(not_migrated, bare_services))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bare:
            not_ready = await bare.get("/readyz")
    finally:
        await bare_services.aclose()
    async with client_at(settings, services, "127.0.0.1") as local:
        local_metrics = await local.get("/metrics")

    sent = {
        ("GET", "/healthz"): {(await client.get("/healthz")).status_code},
        ("GET", "/readyz"): {(await client.get("/readyz")).status_code, not_ready.status_code},
        ("GET", "/openapi.json"): {(await client.get("/openapi.json")).status_code},
        ("GET", "/docs"): {(await client.get("/docs")).status_code},
        # The test client's address is not loopback: the counters do not exist for it.
        ("GET", "/metrics"): {
            (await client.get("/metrics")).status_code,
            local_metrics.status_code,
        },
    }

    assert sent == {operation: documented_statuses(*operation) for operation in sent}
    assert not_ready.json()["message"] in documented_messages("GET", "/readyz", 503)
