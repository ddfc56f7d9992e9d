"""The migrations, on both backends: they build exactly the schema `storage/tables.py` declares, and
every one of them can be undone and redone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from subgroups.storage.engine import async_url
from subgroups.storage.migrate import MIGRATIONS, downgrade, head_revision, upgrade
from subgroups.storage.tables import metadata

T = TypeVar("T")
TABLES = {table.name for table in metadata.sorted_tables}


def inspecting(url: str, look: Callable[[Connection], T]) -> T:
    """Runs `look` on a plain connection to the database at `url`."""

    async def go() -> T:
        engine = create_async_engine(async_url(url))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def drift(url: str) -> list[Any]:
    """What autogenerate would change to make the database match storage/tables.py."""

    def compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    return inspecting(url, compare)


def tables(url: str) -> set[str]:
    return inspecting(url, lambda conn: set(inspect(conn).get_table_names()))


def revision(url: str) -> str | None:
    return inspecting(url, lambda conn: MigrationContext.configure(conn).get_current_revision())


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory(str(MIGRATIONS))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_upgrade_from_an_empty_database_builds_the_declared_schema(
    empty_database_url: str,
) -> None:
    assert tables(empty_database_url) == set()

    upgrade(empty_database_url)

    assert tables(empty_database_url) == TABLES | {"alembic_version"}
    assert revision(empty_database_url) == head_revision()
    assert drift(empty_database_url) == []


def test_the_schema_check_sees_drift(empty_database_url: str) -> None:
    """The comparison is not vacuous: a database one revision short differs from tables.py."""
    upgrade(empty_database_url)
    downgrade(empty_database_url, "-1")

    assert drift(empty_database_url) != []


def test_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    upgrade(empty_database_url)

    downgrade(empty_database_url, "base")
    assert tables(empty_database_url) == {"alembic_version"}
    assert revision(empty_database_url) is None

    upgrade(empty_database_url)
    assert revision(empty_database_url) == head_revision()
    assert drift(empty_database_url) == []


def test_each_revision_steps_down_and_up(empty_database_url: str) -> None:
    for target in revisions():
        upgrade(empty_database_url, target)
        assert revision(empty_database_url) == target
        downgrade(empty_database_url, "-1")
        upgrade(empty_database_url, target)
        assert revision(empty_database_url) == target
    assert revisions()[-1] == head_revision()
    assert drift(empty_database_url) == []
