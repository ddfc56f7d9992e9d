"""What every endpoint does with the HTTP request itself (contract §1): media type, body, size, routing,
request ids and unexpected failures."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.web.app import create_app
from tests.api.helpers import NOT_AN_OBJECT, PATH, body, unreachable_client
from tests.factories import Tenant
from tests.readback import row_counts

MIB = 1024 * 1024
TOO_LARGE = {"message": "Request body too large"}
SUCCESS = {"message": "success"}


def encoded(tenant: Tenant, **extra: object) -> bytes:
    return orjson.dumps({**body(tenant.email_group.id, external_id="user-1"), **extra})


JSON_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "Application/JSON",
]
OTHER_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "application/json-patch+json",
    "",
]


async def test_json_media_types_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for content_type in JSON_TYPES:
        with subtests.test(msg=content_type):
            response = await client.post(
                PATH, content=encoded(tenant), headers={**tenant.auth, "Content-Type": content_type}
            )

            assert (response.status_code, response.json()) == (201, SUCCESS)


async def test_other_media_types_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, subtests: pytest.Subtests
) -> None:
    before = await row_counts(services)
    for content_type in OTHER_TYPES:
        with subtests.test(msg=content_type):
            response = await client.post(
                PATH, content=encoded(tenant), headers={**tenant.auth, "Content-Type": content_type}
            )

            assert (response.status_code, response.json()) == (
                415,
                {"message": "Unsupported Media Type"},
            )
            assert await row_counts(services) == before


async def test_a_missing_content_type_is_accepted_when_the_body_is_json(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    request = client.build_request("POST", PATH, content=encoded(tenant), headers=tenant.auth)
    assert "content-type" not in request.headers

    response = await client.send(request)

    assert (response.status_code, response.json()) == (201, SUCCESS)
    assert len(await services.subscriptions.changes(workspace_id=tenant.workspace.id)) == 1


async def test_a_missing_content_type_with_a_body_that_is_not_json_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    request = client.build_request("POST", PATH, content=b"user-1", headers=tenant.auth)
    assert "content-type" not in request.headers

    response = await client.send(request)

    assert (response.status_code, response.json()) == (400, NOT_AN_OBJECT)


NOT_OBJECTS = [
    b"",
    b"{",
    b"{'subscription_state': 'subscribed'}",
    b"[]",
    b'[{"subscription_state": "subscribed"}]',
    b'"a string"',
    b"42",
    b"true",
    b"null",
    b'{"a": 1} {"b": 2}',
    b'{"email": "\xff\xfe"}',
]


async def test_a_body_that_is_not_a_json_object_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, subtests: pytest.Subtests
) -> None:
    before = await row_counts(services)
    for content in NOT_OBJECTS:
        with subtests.test(msg=repr(content)):
            response = await client.post(
                PATH, content=content, headers={**tenant.auth, "Content-Type": "application/json"}
            )

            assert (response.status_code, response.json()) == (400, NOT_AN_OBJECT)
            assert await row_counts(services) == before


async def test_unknown_fields_are_ignored(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        PATH,
        content=encoded(tenant, app_group_id="legacy", nested={"x": [1, 2]}, extra=None),
        headers={**tenant.auth, "Content-Type": "application/json"},
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)


def padded(tenant: Tenant, size: int) -> bytes:
    """A valid request body of exactly `size` bytes (JSON allows trailing whitespace)."""
    content = encoded(tenant)
    return content + b" " * (size - len(content))


async def test_a_body_of_exactly_one_mebibyte_is_read(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        PATH,
        content=padded(tenant, MIB),
        headers={**tenant.auth, "Content-Type": "application/json"},
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)


class CountingBody:
    """A request body sent in chunks, remembering how many the server asked for."""

    def __init__(self, content: bytes, chunk: int = 64 * 1024) -> None:
        self.chunks = [content[i : i + chunk] for i in range(0, len(content), chunk)]
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.chunks:
            self.sent += 1
            yield piece


async def test_a_declared_length_over_one_mebibyte_is_refused_unread(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    stream = CountingBody(padded(tenant, MIB + 1))
    headers = {
        **tenant.auth,
        "Content-Type": "application/json",
        "Content-Length": str(MIB + 1),
    }
    before = await row_counts(services)

    response = await client.post(PATH, content=stream, headers=headers)

    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert stream.sent == 0
    assert await row_counts(services) == before


@pytest.mark.parametrize("auth", ["header", "legacy body"])
async def test_a_chunked_body_over_one_mebibyte_is_refused_without_reading_the_rest(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, auth: str
) -> None:
    content = padded(tenant, 4 * MIB)
    if auth == "legacy body":
        content = orjson.dumps({"api_key": tenant.key}) + b" " * (4 * MIB)
    stream = CountingBody(content)
    headers = {"Content-Type": "application/json"}
    if auth == "header":
        headers.update(tenant.auth)
    before = await row_counts(services)

    request = client.build_request("POST", PATH, content=stream, headers=headers)
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in request.headers
    response = await client.send(request)

    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    # 1 MiB is 16 chunks of 64 KiB: the 17th crosses the limit, and nothing after it is read.
    assert stream.sent == 17 < len(stream.chunks)
    assert await row_counts(services) == before


async def test_an_unknown_path_is_a_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = await client.request(method, "/subscription/status/nope", headers=tenant.auth)
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


async def test_a_trailing_slash_is_an_unknown_path(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await client.post(PATH + "/", content=encoded(tenant), headers=tenant.auth)

    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})
    assert await services.subscriptions.changes(workspace_id=tenant.workspace.id) == []


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_a_wrong_method_is_a_405(
    client: httpx.AsyncClient, tenant: Tenant, method: str
) -> None:
    response = await client.request(method, PATH, headers=tenant.auth)

    assert (response.status_code, response.json()) == (405, {"message": "Method Not Allowed"})
    assert response.headers["content-type"] == "application/json"


async def test_every_response_carries_a_fresh_request_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    responses = [
        await client.post(PATH, content=encoded(tenant), headers=tenant.auth),
        await client.post(PATH, content=encoded(tenant), headers=tenant.auth),
        await client.post(PATH, json={}, headers=tenant.auth),
        await client.post(PATH, json={}),
        await client.post(PATH, content=b"x", headers={"Content-Type": "text/plain"}),
        await client.get("/nope"),
        await client.get(PATH),
        await client.get("/healthz"),
    ]

    assert [r.status_code for r in responses] == [201, 201, 400, 401, 415, 404, 405, 200]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert len(set(ids)) == len(ids)


async def test_every_response_is_a_json_object_with_a_message(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    responses = [
        await client.post(PATH, content=encoded(tenant), headers=tenant.auth),
        await client.post(PATH, json={}, headers=tenant.auth),
        await client.post(PATH, json={}),
        await client.get("/nope"),
        await client.get(PATH),
    ]

    for response in responses:
        assert response.headers["content-type"] == "application/json"
        document = orjson.loads(response.content)
        assert isinstance(document, dict)
        assert isinstance(document["message"], str)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_an_unreachable_database_is_a_503_with_the_reason_in_the_log_only(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with unreachable_client(backend, tmp_path) as http:
        with caplog.at_level(logging.ERROR, logger="subgroups"):
            response = await http.post(
                PATH,
                json=body("group", external_id="user-1"),
                headers={"Authorization": "Bearer sgk_" + "a" * 43},
            )

    assert response.status_code == 503
    assert response.content == b'{"message":"The database is unavailable"}'
    rid = response.headers["x-request-id"]
    [record] = [r for r in caplog.records if getattr(r, "request_id", None) == rid]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("database unavailable: ")
    assert record.getMessage() != "database unavailable: "  # the driver's own words follow
    assert record.exc_info is None


async def test_an_unexpected_failure_is_a_bare_500_with_the_request_id_in_the_log(
    settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_request: Request) -> Response:
        raise RuntimeError("a bug")

    app = create_app(settings, services)
    app.router.routes.append(Route("/broken", broken))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        with caplog.at_level(logging.ERROR, logger="subgroups.api"):
            response = await http.get("/broken")

    assert response.status_code == 500
    assert response.content == b'{"message":"Internal Server Error"}'
    rid = response.headers["x-request-id"]
    [record] = [r for r in caplog.records if getattr(r, "request_id", None) == rid]
    assert record.exc_info is not None


# --- clients that hang up or trickle: every body, API or dashboard, is read the same way ---

Receive = Callable[[], Awaitable[Message]]


def _scope(path: str, content_type: bytes) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", content_type)],
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


async def _serve(app: ASGIApp, path: str, content_type: bytes, receive: Receive) -> list[Message]:
    """The messages the app sends for one request whose body comes from `receive`."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(path, content_type), receive, send)
    return sent


BODIES = [
    ("/subscription/status/set", b"application/json", b'{"subscription_'),
    ("/v2/subscription/status/set", b"application/json", b'{"subscription_groups'),
    ("/dashboard/sign-in", b"application/x-www-form-urlencoded", b"email=ops"),
]


@pytest.mark.parametrize(("path", "content_type", "first"), BODIES)
async def test_a_client_that_hangs_up_mid_body_is_logged_once_as_a_499_without_an_error(
    settings: Settings,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    path: str,
    content_type: bytes,
    first: bytes,
) -> None:
    messages: list[Message] = [{"type": "http.request", "body": first, "more_body": True}]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    with caplog.at_level(logging.INFO, logger="subgroups"):
        await _serve(create_app(settings, services), path, content_type, receive)

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    [line] = caplog.records
    assert (line.name, line.getMessage(), getattr(line, "status", None)) == (
        "subgroups.access",
        "request",
        499,
    )
    assert line.exc_info is None


@pytest.mark.parametrize(("path", "content_type", "first"), BODIES)
async def test_a_body_that_never_finishes_is_a_408_on_every_surface(
    settings: Settings, path: str, content_type: bytes, first: bytes
) -> None:
    quick = replace(settings, body_timeout_seconds=0.2)
    services = build_services(quick)
    messages: list[Message] = [{"type": "http.request", "body": first, "more_body": True}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the rest of the body never comes
        raise AssertionError("unreachable")

    try:
        async with asyncio.timeout(10):  # a bound on the test, far beyond the body's
            sent = await _serve(create_app(quick, services), path, content_type, receive)
    finally:
        await services.aclose()

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 408
    if path.startswith("/dashboard"):  # the dashboard's error page names what went wrong
        page = b"".join(m.get("body", b"") for m in sent[1:])
        assert b"<title>Too slow" in page
