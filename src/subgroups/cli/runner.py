"""What every command shares: its options, how it reaches the services, how it prints."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import orjson

from subgroups.errors import DatabaseUnavailable, SchemaNotCurrent, SubgroupsError

# The settings and the services are imported when a command runs, not when the CLI is loaded:
# `subgroups --help` and a mistyped command need neither, and the stack behind them takes most of
# a second to import.
if TYPE_CHECKING:
    from subgroups.config import Settings
    from subgroups.container import Services

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

NOT_MIGRATED = "The database schema is not current: run `subgroups db upgrade` first"


def common(command: F) -> F:
    """Adds --json and --database-url to a command."""
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print exactly one JSON document on stdout."
    )(command)
    return click.option(
        "--database-url",
        default=None,
        metavar="URL",
        help="sqlite:///path.db or postgresql://… (default: SUBGROUPS_DATABASE_URL).",
    )(command)


def settings_for(database_url: str | None, *, as_json: bool) -> Settings:
    from subgroups.config import Settings, SettingsError

    try:
        settings = Settings.from_env()
        return settings.with_database(database_url) if database_url else settings
    except SettingsError as error:
        fail(str(error), as_json=as_json)


def fail(message: str, *, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(orjson.dumps({"message": message}).decode())
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(1)


def emit(document: dict[str, Any], text: str, *, as_json: bool) -> None:
    if as_json:
        click.echo(orjson.dumps(document, default=json_default).decode())
    else:
        click.echo(text)


def json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


def run(
    database_url: str | None,
    as_json: bool,
    action: Callable[[Services], Awaitable[T]],
    *,
    require_schema: bool = True,
) -> T:
    """Runs `action` against the services, turning domain errors into a message and exit status 1."""
    from subgroups.container import build_services

    settings = settings_for(database_url, as_json=as_json)
    if require_schema:
        refuse_a_missing_file(settings, as_json=as_json)

    async def _go() -> T:
        services = build_services(settings)
        try:
            if require_schema and not await services.schema_is_current():
                raise SchemaNotCurrent(NOT_MIGRATED)
            return await action(services)
        finally:
            await services.aclose()

    try:
        return asyncio.run(_go())
    except DatabaseUnavailable as error:
        unreachable(error, as_json=as_json)
    except SubgroupsError as error:
        fail(error.message, as_json=as_json)


def missing_file(settings: Settings) -> Path | None:
    """The SQLite file `settings` name, if it does not exist."""
    name = settings.sqlite_file()
    if name is None or Path(name).exists():
        return None
    return Path(name).absolute()


def refuse_a_missing_file(settings: Settings, *, as_json: bool) -> None:
    """Stops before SQLite would create an empty file for a command that needs the schema.

    Only `subgroups db upgrade` (and the demo) may create the database: a mistyped path must not
    leave an empty file behind, nor report a schema problem where the file is simply elsewhere."""
    path = missing_file(settings)
    if path is not None:
        fail(
            f"There is no database at {path}: run `subgroups db upgrade` to create it",
            as_json=as_json,
        )


def unreachable(error: DatabaseUnavailable, *, as_json: bool) -> NoReturn:
    """A database that cannot be opened (no such file, server or database) is a message, not a trace."""
    fail(f"cannot reach the database: {error.detail}", as_json=as_json)
