"""A real `subgroups serve` process on a migrated database, reached over a real socket on 127.0.0.1.

Starting Python with the whole stack imported takes seconds, so one server per backend serves every
end-to-end test that leaves it running (each test works in a workspace of its own). Tests that kill
their server start their own with `launch`. Every process is stopped when its fixture ends, however
the test ends.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.storage.migrate import upgrade
from tests.conftest import BACKENDS, _admin, _postgres_url
from tests.factories import Tenant, make_tenant
from tests.servers import ServerProcess, running, stop_all, subgroups

# Starting Python with the whole stack imported, on a busy machine, can take a while.
STARTUP_LIMIT_SECONDS = 60.0


def serve(database_url: str, log: Path, workers: int = 1) -> ServerProcess:
    """`subgroups serve` on its flags alone, its output in `log` (shown if it fails to start)."""
    return ServerProcess(
        subgroups("serve", database_url, workers=workers),
        log=log,
        start_timeout=STARTUP_LIMIT_SECONDS,
    )


@pytest.fixture(scope="session", params=BACKENDS)
def e2e_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of the end-to-end tests' own, so no other test truncates it under a server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'subgroups.db'}"
        upgrade(url)
        yield url
        return
    request.getfixturevalue("postgres_database")  # PostgreSQL is there (or skip/fail as configured)
    name = f"subgroups_e2e_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _postgres_url(name)
    upgrade(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def server(e2e_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The shared server of one backend."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running(serve(e2e_database, log)) as started:
        yield started


class LaunchServer:
    """Starts servers of a test's own; each is stopped when the test ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[ServerProcess] = []

    def __call__(self, database_url: str, workers: int = 1) -> ServerProcess:
        process = serve(database_url, self.directory / f"server-{len(self.started)}.log", workers)
        self.started.append(process)
        process.start()
        return process


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[LaunchServer]:
    launcher = LaunchServer(tmp_path)
    try:
        yield launcher
    finally:
        stop_all(launcher.started)


@pytest.fixture
async def e2e_services(e2e_database: str) -> AsyncIterator[Services]:
    """Services over the end-to-end database, to set up data and read it back."""
    built = build_services(Settings(database_url=e2e_database, key_cache_seconds=0.0))
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def tenant(e2e_services: Services) -> Tenant:
    """A workspace of this test's own, with a key and one group per channel."""
    return await make_tenant(e2e_services)


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
        yield client
