"""Schema migrations (Alembic), run from the CLI and checked at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, inspect, text

from subgroups.storage.engine import Database
from subgroups.storage.failures import unavailable_on_failure

if TYPE_CHECKING:  # Alembic is loaded only to migrate: checking a revision needs none of it
    from alembic.config import Config

# The newest revision the package ships. Every command and server start compares the database with
# it, so it is written here rather than read from the scripts each time (loading Alembic to do that
# costs about a tenth of a second per command); tests/test_migrations.py holds it to the scripts.
HEAD: Final = "0011_import_file_parts"

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    return HEAD


def scripts_head() -> str | None:
    """The newest revision as Alembic reads it from the scripts (what HEAD must be)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrates the database to `revision`. Blocking: call it outside an event loop."""
    from alembic import command

    with unavailable_on_failure():
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


async def current_revision(db: Database) -> str | None:
    async with db.snapshot() as conn:
        return await conn.run_sync(_current)


def _current(conn: Connection) -> str | None:
    """The revision Alembic recorded in the database (its `alembic_version` table), if any."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    version: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return version


async def is_current(db: Database) -> bool:
    return await current_revision(db) == head_revision()
