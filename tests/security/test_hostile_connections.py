"""Clients that hang up mid-body, send broken chunks or trickle a form in, against a real server.

Only a real server process shows what such a client costs: the log lines it writes and the status
those lines give. The server's log is read back as JSON lines after each test's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from subgroups.config import Settings
from subgroups.container import build_services
from tests.factories import Tenant, make_tenant
from tests.security.servers import database_copy, read_response, running_server
from tests.servers import ServerProcess

pytestmark = pytest.mark.e2e

BODY_TIMEOUT_SECONDS = 1
# How long a test waits for what it expects, far beyond what it should take: a bound on waiting,
# not a timing claim.
PATIENCE_SECONDS = 30
OPERATOR = "ops@example.com"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Seeded:
    tenant: Tenant
    session_token: str


async def _seed(url: str) -> Seeded:
    services = build_services(Settings(database_url=url))
    try:
        tenant = await make_tenant(services)
        await services.operators.create(email=OPERATOR, password=PASSWORD)
        new = await services.operators.sign_in(
            email=OPERATOR, password=PASSWORD, client_ip="127.0.0.1"
        )
        return Seeded(tenant, new.token)
    finally:
        await services.aclose()


@pytest.fixture(scope="module")
def database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_copy(sqlite_template, tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def seeded(database: str) -> Seeded:
    return asyncio.run(_seed(database))


@pytest.fixture(scope="module")
def server(
    database: str, seeded: Seeded, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    env = {"SUBGROUPS_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS)}
    with running_server(database, log, env) as running:
        yield running


def _head(path: str, content_type: str, framing: str, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Type: {content_type}", framing, *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _hang_ups(seeded: Seeded) -> list[bytes]:
    """Requests whose body stops short of its Content-Length; the client then closes."""
    declared = "Content-Length: 100"
    key = f"Authorization: Bearer {seeded.tenant.key}"
    session = f"Cookie: subgroups_session={seeded.session_token}"
    groups = f"/dashboard/w/{seeded.tenant.workspace.id}/groups"
    return [
        _head("/subscription/status/set", JSON, declared) + b'{"subscription_',
        _head("/subscription/status/set", JSON, declared, key) + b'{"subscription_',
        _head("/v2/subscription/status/set", JSON, declared) + b'{"subscription_groups',
        _head("/v2/subscription/status/set", JSON, declared, key) + b'{"subscription_groups',
        _head("/dashboard/sign-in", FORM, declared) + b"email=ops%40exa",
        _head(groups, FORM, declared, session) + b"csrf=abc&name=Ne",
    ]


def _log_end(server: ServerProcess) -> int:
    """Where the log's next line will begin."""
    text = server.log_text()
    return text.rfind("\n") + 1


def _log_lines(server: ServerProcess, offset: int) -> list[dict[str, Any]]:
    """The complete lines from `offset` on (a line may be in the middle of being written)."""
    text = server.log_text()
    return [json.loads(line) for line in text[offset : text.rfind("\n") + 1].splitlines()]


def _access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The access lines of POSTs: the tests' own requests, not their checks that the server serves
    (whose lines may reach the log late)."""
    return [
        line for line in lines if line["logger"] == "subgroups.access" and line["method"] == "POST"
    ]


def _wait_for_access_lines(server: ServerProcess, offset: int, count: int) -> list[dict[str, Any]]:
    """The log from `offset` once it holds `count` access lines (or the patience ran out)."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        lines = _log_lines(server, offset)
        if len(_access_lines(lines)) >= count:
            return lines
        time.sleep(0.1)
    return _log_lines(server, offset)


def _status(raw: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", raw)
    assert match is not None, raw[:200]
    return int(match[1])


def test_five_hundred_clients_hanging_up_mid_body_leave_no_error_and_no_5xx(
    server: ServerProcess, seeded: Seeded
) -> None:
    requests = _hang_ups(seeded)
    offset = _log_end(server)
    for n in range(500):
        with server.connect() as sock:
            sock.sendall(requests[n % len(requests)])

    lines = _wait_for_access_lines(server, offset, 500)

    access = _access_lines(lines)
    assert [line for line in lines if line["level"] not in ("INFO", "DEBUG")] == []
    assert [line for line in lines if "exception" in line] == []
    assert len(access) == 500
    assert {line["status"] for line in access} == {499}
    assert {line["path"] for line in access} == {
        "/subscription/status/set",
        "/v2/subscription/status/set",
        "/dashboard/sign-in",
        f"/dashboard/w/{seeded.tenant.workspace.id}/groups",
    }
    assert _still_serving(server)


@pytest.mark.parametrize(
    "path", ["/subscription/status/set", "/v2/subscription/status/set", "/dashboard/sign-in"]
)
def test_a_bad_chunk_size_is_a_400_to_the_client_and_in_the_log(
    server: ServerProcess, path: str
) -> None:
    offset = _log_end(server)
    with server.connect() as sock:
        sock.sendall(_head(path, JSON, "Transfer-Encoding: chunked") + b"zz\r\n{}\r\n0\r\n\r\n")
        raw = read_response(sock)

    lines = _wait_for_access_lines(server, offset, 1)

    assert _status(raw) == 400
    [access] = _access_lines(lines)
    assert (access["path"], access["status"]) == (path, 400)
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert [line for line in lines if "exception" in line] == []


def _trickled_forms(seeded: Seeded) -> dict[str, bytes]:
    session = f"Cookie: subgroups_session={seeded.session_token}"
    groups = f"/dashboard/w/{seeded.tenant.workspace.id}/groups"
    return {
        "sign-in": _head("/dashboard/sign-in", FORM, "Content-Length: 100") + b"email=ops",
        "sign-in-chunked": _head("/dashboard/sign-in", FORM, "Transfer-Encoding: chunked")
        + b"9\r\nemail=ops\r\n",
        "signed-in-form": _head(groups, FORM, "Content-Length: 100", session) + b"csrf=abc",
    }


@pytest.mark.parametrize("form", ["sign-in", "sign-in-chunked", "signed-in-form"])
def test_a_dashboard_form_that_never_finishes_gets_a_408(
    server: ServerProcess, seeded: Seeded, form: str
) -> None:
    began = time.monotonic()
    with server.connect(timeout=PATIENCE_SECONDS) as sock:
        sock.sendall(_trickled_forms(seeded)[form])
        raw = read_response(sock)
    waited = time.monotonic() - began

    assert raw, "the server answered before the client gave up"
    assert _status(raw) == 408
    assert waited < PATIENCE_SECONDS / 2
    assert _still_serving(server)


def _still_serving(server: ServerProcess) -> bool:
    with contextlib.closing(server.connect(timeout=10)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return _status(read_response(sock)) == 200
