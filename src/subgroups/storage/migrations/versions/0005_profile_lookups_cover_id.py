"""profile lookups cover the id: on PostgreSQL the (workspace_id, external_id), (workspace_id,
email) and (workspace_id, phone) indexes of profiles include `id`, so status/get reads profiles'
ids from the index alone (see storage/tables.py)

PostgreSQL only: SQLite's indexes already hold the rowid, which is `id`. Each index is rebuilt,
which locks profiles against writes while it is built (seconds per million profiles).

Revision ID: 0005_profile_lookups_cover_id
Revises: 0004_group_sizes
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_profile_lookups_cover_id"
down_revision: str | None = "0004_group_sizes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNIQUE = "uq_profiles_workspace_id_external_id"
_INDEXES = (
    ("ix_profiles_workspace_id_email", "email"),
    ("ix_profiles_workspace_id_phone", "phone"),
)


def _rebuild(include: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"ALTER TABLE profiles DROP CONSTRAINT {_UNIQUE},"
        f" ADD CONSTRAINT {_UNIQUE} UNIQUE (workspace_id, external_id){include}"
    )
    for name, column in _INDEXES:
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON profiles (workspace_id, {column}){include}")


def upgrade() -> None:
    _rebuild(" INCLUDE (id)")


def downgrade() -> None:
    _rebuild("")
