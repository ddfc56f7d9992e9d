"""Schema migrations (Alembic), run from the CLI and checked at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from subgroups.storage.engine import Database
from subgroups.storage.failures import unavailable_on_failure

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def upgrade(url: str, revision: str = "head") -> None:
    """Migrates the database to `revision`. Blocking: call it outside an event loop."""
    with unavailable_on_failure():
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def current_revision(db: Database) -> str | None:
    async with db.snapshot() as conn:
        return await conn.run_sync(_current)


def _current(conn: object) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()  # type: ignore[arg-type]  # a sync Connection from run_sync


async def is_current(db: Database) -> bool:
    return await current_revision(db) == head_revision()
