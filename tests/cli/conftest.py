"""The admin CLI, invoked in-process with Click's runner, against a real database on each backend."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from subgroups.cli import main
from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest


def one_document(stdout: str) -> Any:
    """The single JSON document a `--json` command printed, and nothing else."""
    assert stdout.endswith("\n")
    assert stdout.count("\n") == 1, stdout
    return orjson.loads(stdout)


@dataclass(frozen=True)
class Cli:
    """Runs `subgroups …` against one database."""

    database_url: str

    def __call__(self, *args: str, as_json: bool = True) -> Result:
        options = ["--database-url", self.database_url] + (["--json"] if as_json else [])
        return CliRunner().invoke(main, [*args, *options])

    def ok(self, *args: str) -> Any:
        """The JSON document of a command that must succeed."""
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        assert result.stderr == ""
        return one_document(result.stdout)

    def fails(self, *args: str) -> str:
        """The message of a command that must fail: checked in both the JSON and the text form."""
        as_json = self(*args)
        assert as_json.exit_code == 1, (as_json.output, as_json.exception)
        document = one_document(as_json.stdout)
        assert list(document) == ["message"]
        message: str = document["message"]
        as_text = self(*args, as_json=False)
        assert as_text.exit_code == 1, (as_text.output, as_text.exception)
        assert (as_text.stdout, as_text.stderr) == ("", f"error: {message}\n")
        return message

    def set_state(self, workspace_id: int, group_id: str, state: str, **identifiers: Any) -> None:
        """Changes a state through the service, as an API request would."""

        async def go() -> None:
            services = build_services(Settings(database_url=self.database_url))
            try:
                await services.subscriptions.set_state(
                    workspace_id=workspace_id,
                    request=GroupRequest(group_id, state, **identifiers),
                    actor=Actor(Source.REST_API, None, "req-1", "192.0.2.1"),
                )
            finally:
                await services.aclose()

        asyncio.run(go())


@pytest.fixture
def cli(database_url: str) -> Cli:
    """The CLI over a migrated, empty database."""
    return Cli(database_url)


@pytest.fixture
def bare_cli(empty_database_url: str) -> Cli:
    """The CLI over a database with no schema."""
    return Cli(empty_database_url)
