"""`subgroups db`: schema migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from subgroups.cli.runner import common, emit, missing_file, run, settings_for, unreachable
from subgroups.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from subgroups.container import Services


@click.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@common
def db_upgrade(database_url: str | None, as_json: bool) -> None:
    """Migrate the database to the newest schema (creating it if needed)."""
    from subgroups.storage.migrate import head_revision, upgrade

    settings = settings_for(database_url, as_json=as_json)
    try:
        upgrade(settings.database_url)
    except DatabaseUnavailable as error:
        unreachable(error, as_json=as_json)
    head = head_revision()
    emit({"revision": head}, f"database is at revision {head}", as_json=as_json)


@db.command("current")
@common
def db_current(database_url: str | None, as_json: bool) -> None:
    """Show the database's schema revision and whether it is the newest."""
    from subgroups.storage.migrate import current_revision, head_revision

    async def action(services: Services) -> str | None:
        return await current_revision(services.db)

    # A SQLite file that is not there has no revision; opening it would create it.
    settings = settings_for(database_url, as_json=as_json)
    current = (
        None if missing_file(settings) else run(database_url, as_json, action, require_schema=False)
    )
    head = head_revision()
    state = "current" if current == head else f"behind (newest is {head})"
    emit(
        {"revision": current, "head": head, "current": current == head},
        f"revision {current or '(none)'}: {state}",
        as_json=as_json,
    )
