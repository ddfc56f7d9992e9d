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
from subgroups.storage.migrate import MIGRATIONS, downgrade, head_revision, scripts_head, upgrade
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
    """The comparison is not vacuous: a database at the first revision differs from tables.py.

    (Not every revision is visible to it: autogenerate does not compare an index's INCLUDE
    columns, so 0005 is checked by tests/storage/test_read_plans.py instead.)"""
    upgrade(empty_database_url, revisions()[0])

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


def test_dropping_the_change_records_foreign_keys_keeps_every_record(
    empty_database_url: str,
) -> None:
    """On SQLite revision 0003 rebuilds state_changes: the consent records must come through whole,
    and new ones must keep numbering after them."""
    upgrade(empty_database_url, "0002_dashboard")
    at = "2026-01-02 03:04:05+00:00"
    executing(
        empty_database_url,
        f"INSERT INTO workspaces (id, name, created_at) VALUES (1, 'w', '{at}')",
        f"INSERT INTO profiles (id, workspace_id, external_id, created_at) VALUES (7, 1, 'u', '{at}')",
        *(
            "INSERT INTO state_changes (workspace_id, profile_id, external_id, email,"
            " subscription_group_id, channel, old_state, new_state, occurred_at, source,"
            f" request_id) VALUES (1, 7, 'u', 'u@example.com', 'g', 'email', {old},"
            f" '{new}', '{at}', 'REST API', 'r{n}')"
            for n, (old, new) in enumerate(
                [
                    ("NULL", "subscribed"),
                    ("'subscribed'", "unsubscribed"),
                    ("'unsubscribed'", "subscribed"),
                ]
            )
        ),
    )
    before = records(empty_database_url)

    upgrade(empty_database_url)
    executing(
        empty_database_url,
        "INSERT INTO state_changes (workspace_id, profile_id, subscription_group_id, channel,"
        f" new_state, occurred_at, source) VALUES (1, 7, 'g', 'email', 'subscribed', '{at}', 'CLI')",
    )

    after = records(empty_database_url)
    assert len(before) == 3
    assert after[:3] == before
    assert after[3][0] > before[2][0]


def executing(url: str, *statements: str) -> None:
    async def go() -> None:
        engine = create_async_engine(async_url(url))
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    asyncio.run(go())


def records(url: str) -> list[tuple[Any, ...]]:
    def read(conn: Connection) -> list[tuple[Any, ...]]:
        rows = conn.exec_driver_sql(
            "SELECT id, workspace_id, profile_id, external_id, email, old_state, new_state,"
            " occurred_at, source, request_id FROM state_changes ORDER BY id"
        )
        return [tuple(row) for row in rows]

    return inspecting(url, read)


def test_the_head_every_start_compares_with_is_the_scripts_head() -> None:
    """A new migration must also become HEAD in storage/migrate.py, or nothing would upgrade to it."""
    assert head_revision() == scripts_head()
