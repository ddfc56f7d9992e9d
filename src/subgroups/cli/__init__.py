"""`subgroups`: the admin command line. One module per topic; each command is a thin call to a service.

Loading it imports click and the command modules only; each command imports the services it runs
on when it runs (see runner.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import click
import orjson

from subgroups.cli.admins import admin
from subgroups.cli.changes import changes
from subgroups.cli.db import db
from subgroups.cli.exports import export
from subgroups.cli.groups import group
from subgroups.cli.imports import import_file
from subgroups.cli.keys import key
from subgroups.cli.profiles import profile
from subgroups.cli.serve import demo, serve
from subgroups.cli.webhooks import webhook
from subgroups.cli.worker import worker
from subgroups.cli.workspaces import workspace


class JsonUsageError(click.UsageError):
    """A usage error of a command given --json: its message as the one JSON document on stdout.

    It keeps click's exit status 2, which tells a mistyped command from a refused one (1)."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(orjson.dumps({"message": self.format_message()}).decode())


class Subgroups(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Read before click parses anything: a usage error may come before --json is reached.
        ctx.meta["json"] = "--json" in args
        with _json_usage_errors(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with _json_usage_errors(ctx):
            return super().invoke(ctx)


@contextmanager
def _json_usage_errors(ctx: click.Context) -> Iterator[None]:
    try:
        yield
    except click.UsageError as error:
        if not ctx.meta.get("json") or isinstance(error, JsonUsageError):
            raise
        raise JsonUsageError(error.format_message(), error.ctx) from error


@click.group(cls=Subgroups, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="subgroups")
def main() -> None:
    """Admin tool for the subgroups service. The database is SUBGROUPS_DATABASE_URL
    (default: subgroups.db in the current directory) unless --database-url is given."""


for command in (
    db,
    workspace,
    key,
    group,
    profile,
    changes,
    import_file,
    export,
    webhook,
    admin,
    serve,
    worker,
    demo,
):
    main.add_command(command)
