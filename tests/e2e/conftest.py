"""A real `subgroups serve` process on a migrated database, reached over a real socket on 127.0.0.1.

Starting Python with the whole stack imported takes seconds, so one server per backend serves every
end-to-end test that leaves it running (each test works in a workspace of its own). Tests that kill
their server start their own with `launch`. Every process is stopped when its fixture ends, however
the test ends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
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

STARTUP_LIMIT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_environment() -> dict[str, str]:
    """This process's environment without any SUBGROUPS_ setting: the server gets only its flags."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SUBGROUPS_")}


class ServerProcess:
    """One `python -m subgroups serve` process. Its output goes to a log file, shown on failure."""

    def __init__(self, database_url: str, log: Path, workers: int = 1) -> None:
        self.database_url = database_url
        self.log = log
        self.workers = workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "subgroups", "serve", "--port", str(self.port),
                 "--database-url", self.database_url, "--workers", str(self.workers)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(),
            )  # fmt: skip
        try:
            self._wait_until_healthy()
        except BaseException:
            self.kill()
            raise

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
        with httpx.Client(base_url=self.base_url, timeout=2.0) as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    pytest.fail(f"the server exited at start-up:\n{self.output()}")
                try:
                    if http.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        pytest.fail(f"the server did not answer /healthz:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, nothing."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


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
    process = ServerProcess(e2e_database, tmp_path_factory.mktemp("server") / "server.log")
    try:
        process.start()
        yield process
    finally:
        process.stop()


class LaunchServer:
    """Starts servers of a test's own; each is stopped when the test ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[ServerProcess] = []

    def __call__(self, database_url: str, workers: int = 1) -> ServerProcess:
        log = self.directory / f"server-{len(self.started)}.log"
        process = ServerProcess(database_url, log, workers)
        self.started.append(process)
        process.start()
        return process


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[LaunchServer]:
    launcher = LaunchServer(tmp_path)
    try:
        yield launcher
    finally:
        for process in launcher.started:
            process.stop()


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
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as client:
        yield client
