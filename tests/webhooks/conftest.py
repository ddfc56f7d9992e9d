"""Webhook tests: real server processes (or a real dispatcher in process) delivering to real
receivers on 127.0.0.1, on each backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from subgroups.cli import main
from subgroups.container import Services
from subgroups.domain.models import Group, Workspace
from tests.cli.conftest import one_document
from tests.conftest import TEST_SECRET_KEY_TEXT
from tests.dashboard.conftest import web as web  # the signed-in dashboard client
from tests.factories import make_group, make_key, make_workspace
from tests.servers import ServerProcess, stop_all, subgroups

# Short waits, so that retries, lease take-overs and idle polls happen within a test's time.
HOOK_ENV = {
    "SUBGROUPS_SECRET_KEY": TEST_SECRET_KEY_TEXT,
    "SUBGROUPS_WEBHOOK_ALLOW_PRIVATE": "true",
    "SUBGROUPS_WEBHOOK_RETRY_SCHEDULE": "0.3,0.3,0.5,0.5,1,1,1,1,1",
    "SUBGROUPS_WEBHOOK_LEASE_SECONDS": "2",
    "SUBGROUPS_WEBHOOK_POLL_SECONDS": "0.05",
}
STARTUP_LIMIT_SECONDS = 60.0


@dataclass
class Tenant:
    workspace: Workspace
    group: Group
    key: str


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    return Tenant(workspace, group, await make_key(services, workspace.id))


async def cli(database_url: str, *args: str) -> Any:
    """`subgroups <args> --json` with the servers' settings, in a thread of this process (the
    command runs an event loop of its own); its JSON document."""

    def invoke() -> Result:
        arguments = [*args, "--database-url", database_url, "--json"]
        return CliRunner().invoke(main, arguments, env=HOOK_ENV)

    result = await asyncio.to_thread(invoke)
    assert result.exit_code == 0, (result.output, result.exception)
    return one_document(result.stdout)


async def create_endpoint(database_url: str, workspace_id: int, url: str) -> tuple[str, str]:
    """A new endpoint's id and secret, made with the CLI."""
    made = await cli(
        database_url, "webhook", "create", "--workspace", str(workspace_id), "--url", url
    )
    return made["id"], made["secret"]


class Servers:
    """`subgroups serve` processes of a test's own, with HOOK_ENV; stopped when the test ends."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        self.database_url = database_url
        self.started: list[ServerProcess] = []

    def start(self, env: dict[str, str] | None = None) -> ServerProcess:
        process = ServerProcess(
            subgroups("serve", self.database_url),
            log=self.directory / f"server-{len(self.started)}.log",
            env={**HOOK_ENV, **(env or {})},
            start_timeout=STARTUP_LIMIT_SECONDS,
        )
        self.started.append(process)
        process.start()
        return process

    def logs(self) -> str:
        return "\n".join(p.log_text() for p in self.started)


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[Servers]:
    launched = Servers(tmp_path, database_url)
    yield launched
    stop_all(launched.started)
