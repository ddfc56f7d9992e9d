"""What every command shares: its options, how it reaches the services, how it prints."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click
import orjson

from subgroups.config import Settings, SettingsError
from subgroups.container import Services, build_services
from subgroups.errors import DatabaseUnavailable, SchemaNotCurrent, SubgroupsError

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


def settings_for(database_url: str | None) -> Settings:
    try:
        settings = Settings.from_env()
        return settings.with_database(database_url) if database_url else settings
    except (SettingsError, ValueError) as error:
        fail(str(error), as_json=False)


def fail(message: str, *, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(orjson.dumps({"message": message}).decode())
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(1)


def emit(document: dict[str, Any], text: str, *, as_json: bool) -> None:
    if as_json:
        click.echo(orjson.dumps(document, default=_default).decode())
    else:
        click.echo(text)


def _default(value: object) -> object:
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
    settings = settings_for(database_url)

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


def unreachable(error: DatabaseUnavailable, *, as_json: bool) -> NoReturn:
    """A database that cannot be opened (no such file, server or database) is a message, not a trace."""
    fail(f"cannot reach the database: {error.detail}", as_json=as_json)
