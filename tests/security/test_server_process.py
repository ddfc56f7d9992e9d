"""What only a real server process shows: its banner, its limits on request heads, slow senders.

These hold whatever the database is, so they run against one SQLite-backed server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import build_services
from tests.factories import Tenant, make_tenant
from tests.security.servers import database_copy, read_response, running_server
from tests.servers import ServerProcess

pytestmark = pytest.mark.e2e

BODY_TIMEOUT_SECONDS = 1


async def _seed(url: str) -> Tenant:
    services = build_services(Settings(database_url=url))
    try:
        return await make_tenant(services)
    finally:
        await services.aclose()


@pytest.fixture(scope="module")
def database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_copy(sqlite_template, tmp_path_factory.mktemp("server"))


@pytest.fixture(scope="module")
def tenant(database: str) -> Tenant:
    return asyncio.run(_seed(database))


@pytest.fixture(scope="module")
def server(
    database: str, tenant: Tenant, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    env = {"SUBGROUPS_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS)}
    with running_server(database, log, env) as running:
        yield running


def _status(raw: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", raw)
    assert match is not None, raw[:200]
    return int(match[1])


def _headers(raw: bytes) -> dict[str, str]:
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {
        name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in head)
    }


def _raw_exchange(server: ServerProcess, request: bytes) -> bytes:
    with server.connect() as sock:
        # The server may refuse before reading everything; its answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        return read_response(sock)


def _still_serving(server: ServerProcess) -> bool:
    return httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_no_server_banner_and_security_headers_on_every_response(
    server: ServerProcess, tenant: Tenant
) -> None:
    responses = [
        httpx.get(f"{server.url}/healthz"),
        httpx.get(f"{server.url}/no-such-path"),
        httpx.post(f"{server.url}/subscription/status/set", json={}),
        httpx.post(
            f"{server.url}/subscription/status/set",
            json={
                "subscription_group_id": tenant.email_group.id,
                "subscription_state": "subscribed",
                "external_id": "banner",
            },
            headers=tenant.auth,
        ),
    ]

    assert [r.status_code for r in responses] == [200, 404, 401, 201]
    for response in responses:
        assert "server" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    "request_head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n",
        b"GET /healthz?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 30) for i in range(3000))
        + b"\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 5_000_000 + b"\r\n\r\n",
    ],
    ids=["huge-header", "huge-query-string", "many-headers", "enormous-header"],
)
def test_an_oversized_request_head_is_refused_and_the_server_carries_on(
    server: ServerProcess, request_head: bytes
) -> None:
    raw = _raw_exchange(server, request_head)

    assert _status(raw) == 431
    assert raw.endswith(b'{"message":"Request Header Fields Too Large"}')
    assert _headers(raw)["x-content-type-options"] == "nosniff"
    assert _still_serving(server)


def _set_with_padding(
    server: ServerProcess, tenant: Tenant, user: str, **padding: str
) -> httpx.Response:
    headers = {**tenant.auth, **({"X-Padding": padding["header"]} if "header" in padding else {})}
    params = {"padding": padding["query"]} if "query" in padding else None
    return httpx.post(
        f"{server.url}/subscription/status/set",
        params=params,
        json={
            "subscription_group_id": tenant.email_group.id,
            "subscription_state": "subscribed",
            "external_id": user,
        },
        headers=headers,
        timeout=30,
    )


def _state(server: ServerProcess, tenant: Tenant, user: str) -> str:
    response = httpx.get(
        f"{server.url}/subscription/status/get",
        params={"subscription_group_id": tenant.email_group.id, "external_id": user},
        headers=tenant.auth,
    )
    state: str = response.json()["status"][user]
    return state


def test_a_set_whose_head_is_over_the_limit_gets_a_431_and_writes_nothing(
    server: ServerProcess, tenant: Tenant
) -> None:
    big_header = _set_with_padding(server, tenant, "padded-1", header="p" * 70_000)
    big_query = _set_with_padding(
        server, tenant, "padded-2", query="q" * 60_000, header="p" * 10_000
    )
    within = _set_with_padding(server, tenant, "padded-3", query="q" * 30_000)

    assert (big_header.status_code, big_header.json()) == (
        431,
        {"message": "Request Header Fields Too Large"},
    )
    assert big_query.status_code == 431
    assert big_header.headers["x-content-type-options"] == "nosniff"
    assert within.status_code == 201
    states = [_state(server, tenant, user) for user in ("padded-1", "padded-2", "padded-3")]
    assert states == ["Unknown", "Unknown", "Subscribed"]


def test_a_request_head_that_never_ends_is_refused_while_it_arrives(server: ServerProcess) -> None:
    """The server does not wait for the end of a head to count it: memory stays bounded."""
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 50_000_000:  # far more than any limit: refused long before
                sock.sendall(b"b" * 16_384)
                sent += 16_384
        raw = read_response(sock)

    assert _status(raw) == 431
    assert sent < 50_000_000
    assert _still_serving(server)


def test_the_next_request_is_served_after_a_body_refused_unread(server: ServerProcess) -> None:
    """A body the server refused before reading it still arrives, in big reads, and the
    connection then carries the next request (the counting of those reads is tested read by read
    in tests/unit/test_http_protocol.py)."""
    body = b"{" + b" " * 1_000_000 + b"}"
    head = (
        b"POST /subscription/status/set HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    statuses = []
    with server.connect() as sock:
        for _ in range(10):
            sock.sendall(head)
            statuses.append(_status(read_response(sock)))
            sock.sendall(body)  # read by the server in pieces as large as the socket gives
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            statuses.append(_status(read_response(sock)))

    assert statuses == [401, 200] * 10


def test_requests_pipelined_on_one_connection_are_all_answered(server: ServerProcess) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with server.connect() as sock:
        sock.sendall(request * 3)
        answers = b""
        while answers.count(b'{"message":"ok"}') < 3:
            chunk = sock.recv(65536)
            assert chunk, answers
            answers += chunk

    assert answers.count(b"HTTP/1.1 200 OK") == 3


def test_a_request_head_within_the_limit_is_served(server: ServerProcess) -> None:
    raw = _raw_exchange(
        server, b"GET /healthz?q=" + b"a" * 30_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )

    assert _status(raw) == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_that_trickles_in_gets_a_408_not_a_hang(
    server: ServerProcess, tenant: Tenant, chunked: bool
) -> None:
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: 100"
    head = (
        b"POST /subscription/status/set HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\n"
        + f"Authorization: Bearer {tenant.key}\r\n".encode()
        + framing
        + b"\r\n\r\n"
    )
    first = b'5\r\n{"sub\r\n' if chunked else b'{"sub'
    with server.connect(timeout=30) as sock:
        sock.sendall(head + first)
        raw = read_response(sock)

    assert _status(raw) == 408
    assert raw.endswith(b'{"message":"Request Timeout"}')
    assert _still_serving(server)


def test_a_body_over_the_cap_is_refused_by_the_real_server(
    server: ServerProcess, tenant: Tenant
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65536

    response = httpx.post(
        f"{server.url}/subscription/status/set",
        content=chunks(),
        headers={**tenant.auth, "Content-Type": "application/json"},
    )

    assert (response.status_code, response.json()) == (413, {"message": "Request body too large"})


@pytest.mark.parametrize(
    "bad_header",
    [
        b"X-Test: a\rInjected: yes",
        b"X-Test: a\x00b",
        b"X Test: a",
        b": empty-name",
    ],
    ids=["bare-cr", "nul", "space-in-name", "empty-name"],
)
def test_malformed_header_lines_are_refused(server: ServerProcess, bad_header: bytes) -> None:
    raw = _raw_exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + bad_header + b"\r\n\r\n")

    assert _status(raw) == 400
    assert "injected" not in _headers(raw)


def test_values_from_the_client_never_become_response_headers(
    server: ServerProcess, tenant: Tenant
) -> None:
    response = httpx.post(
        f"{server.url}/subscription/status/set",
        params={"api_key": "sgk_x\r\nSet-Cookie: a=b"},
        json={"subscription_group_id": "g\r\nSet-Cookie: a=b", "subscription_state": "x"},
        headers={"X-Request-Id": "chosen-by-client"},
    )

    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_access_lines_reach_the_log_while_the_server_runs(server: ServerProcess) -> None:
    """Lines are written in batches, but soon: an operator tailing the log sees each request."""
    rid = httpx.get(f"{server.url}/healthz").headers["x-request-id"]

    deadline = time.monotonic() + 10  # a bound on waiting, not a timing claim
    while rid not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert rid in server.log_text()


def test_the_server_waits_for_no_one(server: ServerProcess) -> None:
    """An idle connection that never sends a request does not block others."""
    with server.connect() as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\n")
        began = time.monotonic()
        assert _still_serving(server)
        assert time.monotonic() - began < 30  # bounded by the socket timeout, not a timing claim
