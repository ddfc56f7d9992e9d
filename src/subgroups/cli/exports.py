"""`subgroups export`: a workspace's states or records as CSV or NDJSON, streamed (§10)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from subgroups.cli.runner import run

if TYPE_CHECKING:
    from subgroups.container import Services

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "ndjson"]),
    default="csv",
    show_default=True,
    help="CSV (formula cells neutralised for spreadsheets) or one JSON object per line.",
)
_OUTPUT = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
_DATABASE = click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="sqlite:///path.db or postgresql://… (default: SUBGROUPS_DATABASE_URL).",
)
_WORKSPACE = click.option("--workspace", "workspace_id", type=int, required=True)
_GROUP = click.option("--group", "group_id", default=None, help="Only this group (its id).")


@click.group()
def export() -> None:
    """Export states or state-change records, streamed, at any size."""


@export.command("states")
@_WORKSPACE
@_GROUP
@click.option("--as-of", default=None, help="The states as they stood at this ISO 8601 time.")
@_FORMAT
@_OUTPUT
@_DATABASE
def export_states(
    workspace_id: int,
    group_id: str | None,
    as_of: str | None,
    fmt: str,
    output: Path | None,
    database_url: str | None,
) -> None:
    """One line per profile and group with a state: external_id, email, phone,
    subscription_group_id, subscription_state, updated_at (importable as it is)."""
    from subgroups.domain.exports import export_format, moment

    async def lines(services: Services) -> AsyncIterator[str]:
        return await services.exports.states(
            workspace_id=workspace_id,
            group_id=group_id,
            as_of=moment(as_of, "as_of"),
            fmt=export_format(fmt),
        )

    _write(database_url, output, lines)


@export.command("changes")
@_WORKSPACE
@_GROUP
@click.option("--since", default=None, help="Records at or after this ISO 8601 time.")
@click.option("--until", default=None, help="Records before this ISO 8601 time.")
@click.option("--source", default=None, help="Only this source, e.g. 'CSV Import'.")
@_FORMAT
@_OUTPUT
@_DATABASE
def export_changes(
    workspace_id: int,
    group_id: str | None,
    since: str | None,
    until: str | None,
    source: str | None,
    fmt: str,
    output: Path | None,
    database_url: str | None,
) -> None:
    """Every state-change record (§7 fields), oldest first."""
    from subgroups.domain import exports

    async def lines(services: Services) -> AsyncIterator[str]:
        return await services.exports.changes(
            workspace_id=workspace_id,
            group_id=group_id,
            since=exports.moment(since, "since"),
            until=exports.moment(until, "until"),
            source=exports.source(source),
            fmt=exports.export_format(fmt),
        )

    _write(database_url, output, lines)


def _write(
    database_url: str | None,
    output: Path | None,
    lines: Callable[[Services], Awaitable[AsyncIterator[str]]],
) -> None:
    async def action(services: Services) -> None:
        produced = await lines(services)  # checks the request before anything is written
        assert isinstance(produced, AsyncGenerator)
        target: IO[str]
        with (
            output.open("w", encoding="utf-8", newline="") if output is not None else _Stdout()
        ) as target:
            try:
                async for line in produced:
                    target.write(line)
            except BrokenPipeError:
                # The reader stopped reading (`| head`): nothing more to write, and no error.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            finally:
                await produced.aclose()

    run(database_url, False, action)


class _Stdout:
    """Standard output, left open."""

    def __enter__(self) -> IO[str]:
        return sys.stdout

    def __exit__(self, *_: object) -> None:
        sys.stdout.flush()
